"""The ingest benchmark's database work, run in a process of its own with the ingest's settings.

The benchmark itself imports no Django: it drives the ingest through its processes, as in
production. What it needs from the ingest's database, the streaming profile its simulated
calls stream for and the calls' statistics once they are finalized, is done here::

    python -m streaming.tools.bench.ingest_db create-profile
    python -m streaming.tools.bench.ingest_db poll-calls --prefix P --expected N --timeout S

Each prints its result on one line: ``RESULT_MARK`` followed by JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

RESULT_MARK = "BENCH-JSON "

# The streaming profile the bench creates and the simulator's defaults speak for.
PROFILE = {
    "product_type": "QUEUE",
    "product_id": 1234,
    "sub_account_id": "99990001",
    "main_account_id": "99990000",
    "rc_account_id": "123456789",
    "streaming_url": "wss://bench.example.com",
}


def create_profile(profile: Mapping[str, Any] = PROFILE) -> str | None:
    """The bench's streaming profile, created unless it exists: its secret."""
    from streaming.profiles.models import StreamingProfile  # here: Django is set up by main()
    from streaming.profiles.services import streaming_profile_create

    existing = StreamingProfile.objects.filter(
        product_type=profile["product_type"],
        product_id=profile["product_id"],
        sub_account_id=profile["sub_account_id"],
    ).first()
    return (existing or streaming_profile_create(**profile)).secret


def poll_calls(*, prefix: str, expected: int, timeout: float) -> Sequence[Mapping[str, Any]]:
    """The calls whose RingCX id starts with ``prefix``, once ``expected`` of them are there
    and none is live (calls are finalized a few seconds after their Stop), or as they are
    when ``timeout`` seconds have passed."""
    from ringadmin.calls.models import Call

    deadline = time.monotonic() + timeout
    while True:
        rows = list(
            Call.objects.filter(ringcx_call_id__startswith=prefix).values(
                "ringcx_call_id", "status", "stream_stats", "recording_path"
            )
        )
        settled = len(rows) >= expected and not any(r["status"] == "live" for r in rows)
        if settled or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streaming.tools.bench.ingest_db",
        description="The ingest benchmark's database work, with the ingest's settings.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-profile", help="the bench's streaming profile: its secret")
    poll = commands.add_parser("poll-calls", help="the calls of a round, once finalized")
    poll.add_argument("--prefix", required=True, help="the round's call id prefix")
    poll.add_argument("--expected", type=int, required=True, help="calls the server accepted")
    poll.add_argument("--timeout", type=float, required=True, help="seconds to wait for them")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ringadmin.settings")
    import django
    from django.apps import apps

    if not apps.ready:  # in-process (the tests): set up already, and again would rebind logging
        django.setup()
    if args.command == "create-profile":
        result: Any = create_profile()
    else:
        result = poll_calls(prefix=args.prefix, expected=args.expected, timeout=args.timeout)
    sys.stdout.write(RESULT_MARK + json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
