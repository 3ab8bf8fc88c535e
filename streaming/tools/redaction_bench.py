"""Redaction throughput: ``python -m streaming.tools.redaction_bench`` (no database).

Prints lines per second for a whole call redacted at once (the post-call store and exports),
for one line alone, and for a live line with the eight lines before it as context.
"""

from __future__ import annotations

import os
import time

LINES = [
    "thank you for calling, how can I help you today",
    "I'd like to pay my bill, it's about two hundred and forty dollars",
    "sure, can I have the card number please",
    "it's four five three nine, one four eight eight, oh three four three, six four six seven",
    "and the security code on the back",
    "seven three one",
    "my order number is 55512 and my phone is 650 555 1234",
    "great, that's all done, anything else",
]


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ringadmin.settings")
    import django

    django.setup()
    from streaming.transcription.engines.base import Segment
    from streaming.transcription.redaction import redact_conversation

    turns = [
        ("caller" if i % 2 else "agent", Segment(float(i), i + 0.9, LINES[i % len(LINES)]))
        for i in range(400)
    ]

    def rate(batch: list[tuple[str, Segment]], rounds: int, per_round: int) -> float:
        started = time.perf_counter()
        for _ in range(rounds):
            redact_conversation(batch)
        return rounds * per_round / (time.perf_counter() - started)

    print(f"whole call ({len(turns)} turns): {rate(turns, 5, len(turns)):.0f} lines/s")
    print(f"one line alone: {rate([('caller', Segment(0, 1, LINES[3]))], 2000, 1):.0f} lines/s")
    print(f"live line with 8 lines of context: {rate(turns[:9], 1000, 1):.0f} lines/s")


if __name__ == "__main__":
    main()
