"""Running the fake by hand: ``python -m tests.doubles.fake_speech --port 8930``."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Sequence

from .common import BANNER_TITLE, CONTROL_PREFIX
from .fake import FakeSpeech


def banner(fake: FakeSpeech, *, service_account_path: str | None = None) -> str:
    lines = [
        "=" * len(BANNER_TITLE),
        BANNER_TITLE,
        "=" * len(BANNER_TITLE),
        f"Listening on {fake.url} (use it as the base URL of every engine and of Cloud Storage)",
        f"Google API key: {fake.google_api_key}   bucket: {', '.join(sorted(fake.buckets))}",
        f"Deepgram key: {fake.deepgram_key}   OpenAI key: {fake.openai_key}",
    ]
    if service_account_path:
        lines.append(f"Service-account key file: {service_account_path}")
    lines += [
        f"Control API: {fake.url}{CONTROL_PREFIX}/requests, /script, /faults, /config, /reset",
        "Ctrl-C stops it.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.doubles.fake_speech", description=BANNER_TITLE
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8930)
    parser.add_argument("--operation-polls", type=int, default=2)
    parser.add_argument(
        "--service-account-out",
        metavar="PATH",
        help="write a service-account key file accepted by this fake (needs cryptography)",
    )
    args = parser.parse_args(argv)
    fake = FakeSpeech(
        host=args.host,
        port=args.port,
        operation_polls=args.operation_polls,
        log=lambda line: print(line, flush=True),
    )
    fake.start()
    try:
        if args.service_account_out:
            with open(args.service_account_out, "w", encoding="utf-8") as handle:
                json.dump(fake.create_service_account(), handle, indent=2)
        print(banner(fake, service_account_path=args.service_account_out), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping the fake.", flush=True)
    finally:
        fake.stop()
