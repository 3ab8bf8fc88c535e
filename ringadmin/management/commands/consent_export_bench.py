"""``manage.py consent_export_bench --records N``: seed N demo calls with consent records, then
time the consent log's CSV and JSON Lines exports (streamed, hashed as sent) and report the
peak RSS growth, which stays flat at any N. ``--clean`` removes the seeded calls."""

from __future__ import annotations

import gc
import resource
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.consent_models import ConsentMethod, ConsentOutcome, ConsentRecord
from ringadmin.compliance.consent_search import EXPORT_COLUMNS, ConsentQuery, consent_export_rows
from ringadmin.compliance.exports import DigestingStream, csv_lines, jsonl_lines

PREFIX = "bench-consent-"
BATCH = 5000


def _current_rss_mib() -> float:
    """Resident memory now (Linux), sampled during the export to show it stays flat."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class Command(BaseCommand):
    help = "Benchmark the consent log exports on N seeded records (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--records", type=int, default=100_000)
        parser.add_argument("--clean", action="store_true")

    def handle(self, *args, **options) -> None:
        Call.objects.filter(is_demo=True, ringcx_call_id__startswith=PREFIX).delete()
        if options["clean"]:
            return
        self._seed(options["records"])
        user, _ = get_user_model().objects.get_or_create(
            username="bench-consent", defaults={"is_superuser": True}
        )
        for name, make_lines in (
            ("csv", lambda rows: csv_lines(EXPORT_COLUMNS, rows)),
            ("jsonl", jsonl_lines),
        ):
            gc.collect()
            before = highest = _current_rss_mib()
            started = time.monotonic()
            stream = DigestingStream(
                make_lines(consent_export_rows(user=user, query=ConsentQuery())),
                header_lines=1 if name == "csv" else 0,
            )
            size = 0
            for index, chunk in enumerate(stream):
                size += len(chunk)
                if index % 5000 == 0:
                    highest = max(highest, _current_rss_mib())
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"{name}: {stream.rows} rows, {size / 2**20:.1f} MiB in {elapsed:.2f} s "
                f"({stream.rows / elapsed:,.0f} rows/s); "
                f"RSS {before:.0f} MiB before, at most {highest:.0f} MiB during the export"
            )

    def _seed(self, count: int) -> None:
        start = timezone.now() - timedelta(days=30)
        seeded = 0
        while seeded < count:
            size = min(BATCH, count - seeded)
            with transaction.atomic():
                calls = Call.objects.bulk_create(
                    Call(
                        ringcx_call_id=f"{PREFIX}{seeded + i}",
                        session_id="1",
                        agent_id=f"=agent{(seeded + i) % 50}",
                        product_type="Queue",
                        product_id="1234",
                        status=CallStatus.COMPLETED,
                        started_at=start + timedelta(seconds=seeded + i),
                        is_demo=True,
                    )
                    for i in range(size)
                )
                ConsentRecord.objects.bulk_create(
                    ConsentRecord(
                        call=call,
                        method=ConsentMethod.BEEP if n % 7 else ConsentMethod.NONE,
                        outcome=ConsentOutcome.NOTICE_GIVEN if n % 7 else ConsentOutcome.NO_NOTICE,
                        given_at=call.started_at,
                    )
                    for n, call in enumerate(calls)
                )
            seeded += size
        self.stdout.write(f"seeded {count} calls with consent records")
