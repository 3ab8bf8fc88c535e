"""The simulator's command line, shared by ``python -m streaming.tools.simulator`` and
``manage.py ringcx_simulate``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from io import TextIOBase
from pathlib import Path
from typing import Any, TextIO

from .audio import AudioError
from .client import simulate
from .config import NUMBERINGS, SECRET_PLACES, SimulationConfig
from .report import SimulationReport, format_summary

DESCRIPTION = "Simulate RingCX call streaming over WebSocket, with load and faults."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options, shared by ``python -m streaming.tools.simulator`` and the
    command."""
    parser.add_argument("--url", default="ws://127.0.0.1:8000/", help="the ingest socket")
    load = parser.add_argument_group("load")
    load.add_argument("--calls", type=int, default=1, help="concurrent calls")
    load.add_argument(
        "--duration", type=float, default=None, help="seconds per call (default 10, or the WAV)"
    )
    load.add_argument("--ramp", type=float, default=0.0, help="spread call starts over S seconds")
    load.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pace frames every 20 ms (default) or flood as fast as the server reads",
    )
    audio = load.add_mutually_exclusive_group()
    audio.add_argument("--audio", type=Path, help="stereo or mono WAV (left = agent)")
    audio.add_argument(
        "--tone", action="store_true", help="synthetic conversation (default): 440/660 Hz"
    )
    call = parser.add_argument_group("call")
    call.add_argument("--call-id-prefix", default=None, help="call ids are PREFIX-1, PREFIX-2…")
    call.add_argument("--session-id", default="1")
    call.add_argument("--product-type", default="Queue", choices=["Queue", "Campaign", "Manual"])
    call.add_argument("--product-id", type=int, default=1234)
    call.add_argument("--sub-account", default="99990001", help="RingCX sub-account id")
    call.add_argument("--account-id", default="99990000", help="RingCX main account id")
    call.add_argument("--rc-account-id", default="123456789", help="RingCentral account id")
    call.add_argument("--secret", default=None, help="the streaming profile's secret")
    call.add_argument("--secret-in", default="header", choices=SECRET_PLACES)
    call.add_argument(
        "--no-sent-at", action="store_true", help="omit sentAt (as RingCX itself does)"
    )
    faults = parser.add_argument_group("faults (percentages per frame)")
    faults.add_argument("--late-start-ms", type=float, default=0.0, help="Conference starts later")
    faults.add_argument("--numbering", default="per-perspective", choices=NUMBERINGS)
    faults.add_argument("--reorder", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--reorder-depth", type=int, default=3, metavar="K")
    faults.add_argument("--duplicate", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--drop", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--late", type=float, default=0.0, metavar="PCT", help="sent >1 s late")
    faults.add_argument("--malformed", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--split-perspectives", action="store_true")
    faults.add_argument("--reconnect-at", type=float, default=None, metavar="S")
    faults.add_argument("--seed", type=int, default=None)
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--report-file", type=Path, help="also write the JSON report here")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument("--connect-timeout", type=float, default=10.0)
    output.add_argument("--deadline", type=float, default=None, help="hard limit for the run")


def config_from_options(options: Mapping[str, Any]) -> SimulationConfig:
    duration = options.get("duration")
    if duration is None and options.get("audio") is None:
        duration = 10.0
    return SimulationConfig(
        url=options["url"],
        calls=options["calls"],
        duration=duration,
        ramp=options["ramp"],
        audio_path=options.get("audio"),
        call_id_prefix=options["call_id_prefix"],
        session_id=options["session_id"],
        product_type=options["product_type"],
        product_id=options["product_id"],
        sub_account=options["sub_account"],
        account_id=options["account_id"],
        rc_account_id=options["rc_account_id"],
        secret=options["secret"],
        secret_in=options["secret_in"],
        realtime=options["realtime"],
        send_sent_at=not options["no_sent_at"],
        late_start_ms=options["late_start_ms"],
        numbering=options["numbering"],
        reorder_pct=options["reorder"],
        reorder_depth=options["reorder_depth"],
        duplicate_pct=options["duplicate"],
        drop_pct=options["drop"],
        late_pct=options["late"],
        malformed_pct=options["malformed"],
        split_perspectives=options["split_perspectives"],
        reconnect_at=options["reconnect_at"],
        seed=options["seed"],
        connect_timeout=options["connect_timeout"],
        deadline=options["deadline"],
        progress=not options["quiet"] and not options["json"],
    )


def run_from_options(
    options: Mapping[str, Any], *, stdout: TextIO | TextIOBase
) -> SimulationReport:
    """Run the simulation the options describe and print its report; used by both CLIs."""
    config = config_from_options(options)
    report = asyncio.run(simulate(config))
    data = report.to_dict()
    if options.get("report_file"):
        Path(options["report_file"]).write_text(json.dumps(data))
    stdout.write((json.dumps(data, indent=2) if options["json"] else format_summary(report)) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streaming.tools.simulator", description=DESCRIPTION
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        report = run_from_options(options, stdout=sys.stdout)
    except (ValueError, AudioError, OSError) as exc:
        parser.error(str(exc))
    return 0 if report.ok else 1
