"""``manage.py dsr find|export|erase --phone N``: data-subject requests for one phone number
(as caller or dialled).

``find`` lists the calls; ``export --out FILE.zip`` writes every call's recordings and
transcripts with a manifest; ``erase [--reason …]`` removes their content, leaving tombstones
and audit entries, and reports the calls kept because a legal hold covers them.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from streaming.retention import PhoneInvalid, dsr_erase, dsr_export, dsr_find


class Command(BaseCommand):
    help = "Data-subject requests by phone number: find, export (zip), erase."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        find = actions.add_parser("find", help="list the number's calls")
        export = actions.add_parser("export", help="write a zip of recordings and transcripts")
        erase = actions.add_parser("erase", help="remove the calls' content (not under hold)")
        for sub in (find, export, erase):
            sub.add_argument("--phone", required=True, help="the caller's or dialled number")
        for sub in (export, erase):
            sub.add_argument(
                "--by", metavar="USERNAME", help="who handles the request (recorded in the audit)"
            )
        find.add_argument("--json", action="store_true", help="one JSON document")
        export.add_argument("--out", required=True, type=Path, metavar="FILE.zip")
        erase.add_argument("--reason", default="", help="why (kept in tombstones and the audit)")

    def handle(self, *args, **options) -> None:
        try:
            if options["action"] == "find":
                self._find(options)
            elif options["action"] == "export":
                self._export(options)
            else:
                self._erase(options)
        except PhoneInvalid as error:
            raise CommandError(str(error)) from error

    def _actor(self, options):
        """The user named by ``--by`` (an active one), or ``None`` for the system."""
        if not options.get("by"):
            return None
        user = get_user_model().objects.filter(username=options["by"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['by']!r}")
        return user

    def _find(self, options) -> None:
        rows = dsr_find(phone=options["phone"])
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            flags = [f"purged: {row['purged']}"] if row["purged"] else []
            if row["legal_hold"]:
                flags.append("legal hold")
            recording = "yes" if row["has_recording"] else "no"
            self.stdout.write(
                f"call {row['call']} {row['ringcx_call_id']} {row['started_at']} "
                f"ANI {row['ani']} DNIS {row['dnis']} recording {recording}"
                f" transcripts {row['transcripts']}" + (f" ({', '.join(flags)})" if flags else "")
            )
        self.stdout.write(f"{len(rows)} call(s).")

    def _export(self, options) -> None:
        out: Path = options["out"]
        if out.suffix.lower() != ".zip":
            raise CommandError("--out must name a .zip file")
        if not out.parent.is_dir():
            raise CommandError(f"no such directory: {out.parent}")
        manifest = dsr_export(phone=options["phone"], out=out, actor=self._actor(options))
        self.stdout.write(self.style.SUCCESS(f"{len(manifest['calls'])} call(s) exported to {out}"))

    def _erase(self, options) -> None:
        report = dsr_erase(
            phone=options["phone"], reason=options["reason"], actor=self._actor(options)
        )
        for call_id in report.erased:
            self.stdout.write(f"erased call {call_id}")
        for call_id in report.already:
            self.stdout.write(f"call {call_id}: content already removed")
        for call_id in report.held:
            self.stdout.write(f"kept call {call_id}: under legal hold")
        for call_id in report.live:
            self.stdout.write(f"kept call {call_id}: still being recorded; run again after it ends")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.erased)} erased, {len(report.held)} kept under legal hold, "
                f"{len(report.live)} live."
            )
        )
