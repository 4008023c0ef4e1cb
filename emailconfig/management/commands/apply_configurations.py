import json
import os
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from emailconfig.audit import Actor
from emailconfig.services import apply_document

COMMAND = "apply_configurations"


class Command(BaseCommand):
    help = (
        "Make this installation match a document written by export_configurations (JSON or "
        "YAML): --plan prints what would change; without it, it changes it all in one "
        "transaction, or nothing. Secrets come from the environment variables it names."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", type=Path)
        parser.add_argument("--plan", action="store_true", help="Show the changes; save none.")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            text = path.read_text(encoding="utf-8")
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
            raise CommandError(f"{path}: cannot be read ({error}).") from None
        if options["plan"]:
            result = apply_document.plan(document, os.environ)
            if result.problems:
                raise CommandError(_problems(result.problems))
            self._print(result.lines, "Plan")
            return
        try:
            lines = apply_document.apply(document, os.environ, by=Actor.command(COMMAND))
        except apply_document.Refused as refused:
            raise CommandError(_problems(refused.problems)) from None
        self._print(lines, "Applied")

    def _print(self, lines: list[str], what: str) -> None:
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(f"{what}: {len(lines)} change(s)." if lines else "Nothing to change.")


def _problems(problems: list[str]) -> str:
    return "Nothing was changed:\n" + "\n".join(f"  {problem}" for problem in problems)
