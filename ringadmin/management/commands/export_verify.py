"""``manage.py export_verify FILE MANIFEST``: exit 0 only when the file is exactly the one the
signed manifest describes."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ringadmin.compliance.exports import manifest_problems

CHUNK = 1 << 20


class Command(BaseCommand):
    help = "Check an export file against its signed manifest (non-zero exit on any change)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("manifest")

    def handle(self, *args, **options) -> None:
        try:
            manifest = json.loads(Path(options["manifest"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the manifest: {exc}") from exc
        if not isinstance(manifest, dict):
            raise CommandError("the manifest is not a JSON object")
        try:
            with open(options["file"], "rb") as handle:
                problems = manifest_problems(
                    manifest=manifest, file_bytes=iter(lambda: handle.read(CHUNK), b"")
                )
        except OSError as exc:
            raise CommandError(f"cannot read the file: {exc}") from exc
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(f"OK: {manifest.get('rows')} rows, sha256 {manifest.get('sha256')}")
