"""``manage.py ringcx_simulate``: stream simulated RingCX calls to an ingest socket.

A thin wrapper over :mod:`streaming.tools.simulator` (``python -m streaming.tools.simulator``
takes the same options) so operators find it next to the other commands, e.g.::

    manage.py ringcx_simulate --url ws://127.0.0.1:8000/ --secret S --calls 20 --duration 30
    manage.py ringcx_simulate --secret S --reorder 5 --duplicate 2 --split-perspectives --json
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from streaming.tools.simulator import AudioError, add_arguments, run_from_options


class Command(BaseCommand):
    help = (
        "Stream simulated RingCX calls (G.711 stereo, real time or flood, with optional "
        "faults) to an ingest WebSocket and report what was sent and how each socket ended."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args, **options) -> None:
        try:
            report = run_from_options(options, stdout=self.stdout)
        except (ValueError, AudioError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if not report.ok:
            raise CommandError(
                "not every call completed: see the connection outcomes above "
                "(refused handshakes, server closes or unsent frames)"
            )
