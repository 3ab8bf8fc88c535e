"""``manage.py audit_verify [--full]``: is the audit trail intact? Exits 1 on any problem."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ringadmin.compliance.audit import audit_chain_verify, audit_chain_verify_incremental
from ringadmin.compliance.checkpoints import checkpoints_compare


class Command(BaseCommand):
    help = (
        "Verify the audit chain (only the entries since the last verification, or all with "
        "--full) and compare it with the signed checkpoints kept outside the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full", action="store_true", help="walk the whole chain from its first entry"
        )

    def handle(self, *args: Any, full: bool = False, **options: Any) -> None:
        check = audit_chain_verify() if full else audit_chain_verify_incremental()
        problems = [] if check.ok else [f"chain: {check.reason}"]
        problems += [f"checkpoints: {p.reason}" for p in checkpoints_compare()]
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"the audit trail is not intact ({len(problems)} problems)")
        scope = "whole chain" if full else "new entries"
        self.stdout.write(
            f"audit trail intact: {check.checked} entries verified ({scope}), "
            f"through entry #{check.verified_through}"
        )
