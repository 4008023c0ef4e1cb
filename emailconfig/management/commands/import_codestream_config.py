from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from emailconfig.audit import Actor
from emailconfig.models import Stage
from emailconfig.services import imports

COMMAND = "import_codestream_config"


class Command(BaseCommand):
    help = (
        "Create a configuration for one stage from CodeStream On-Prem's "
        "codestream-services-config.json (its emailDeliveryService and email blocks). "
        "Shows what it creates first; --dry-run stops there."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", type=Path, help="The CodeStream config file.")
        parser.add_argument("--stage", required=True, help="The stage's slug, such as qa.")
        parser.add_argument("--name", default="", help="Default: CodeStream (<stage>).")
        parser.add_argument("--dry-run", action="store_true", help="Show it; save nothing.")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{path}: cannot be read ({error}).") from None
        stage = Stage.objects.filter(slug=options["stage"]).first()
        if stage is None:
            known = ", ".join(Stage.objects.values_list("slug", flat=True))
            raise CommandError(f"--stage: no stage {options['stage']!r} (there are: {known}).")
        # Whoever runs this on the server has typed the stage on purpose: that confirms it.
        plan = imports.plan(text, stage=stage, name=str(options["name"]), confirm_stage=stage.name)
        for label, value in plan.shown:
            self.stdout.write(f"  {label}: {value}")
        for note in plan.reading.notes:
            self.stdout.write(f"  note: {note}")
        if plan.problems:
            lines = "\n".join(f"  {problem}" for problem in plan.problems)
            raise CommandError(f"Nothing was saved; fix these in {path}:\n{lines}")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was saved.")
            return
        try:
            version = imports.save(plan, by=Actor.command(COMMAND))
        except ValueError:
            lines = "\n".join(f"  {problem}" for problem in plan.problems)
            raise CommandError(f"Nothing was saved:\n{lines}") from None
        self.stdout.write(self.style.SUCCESS(f"Created {version} for {stage}."))
