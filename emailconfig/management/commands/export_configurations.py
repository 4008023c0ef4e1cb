from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from emailconfig import as_code


class Command(BaseCommand):
    help = (
        "Write every stage's configuration (with its whole version history), the version "
        "each app applied per stage, and the templates as one JSON or YAML document. Secrets "
        "are environment variable references, never values. Deterministic."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--format", choices=as_code.FORMATS, default="json")
        parser.add_argument("--output", type=Path, help="A file; standard output without it.")

    def handle(self, *args: object, **options: object) -> None:
        text = as_code.dump(as_code.document(), str(options["format"]))
        output = options["output"]
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(str(output)).write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"{output}: cannot be written ({error}).") from None
        self.stderr.write(f"Wrote {output}.")
