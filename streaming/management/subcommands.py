"""Management commands made of subcommands, where adding a subcommand is one decorated method.

``manage.py streaming_profile add …`` and ``manage.py calls show …`` share this shape so
operators meet the same conventions everywhere: every subcommand takes ``--json`` and every
failure is a ``CommandError`` with a message that says what to fix.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

Handler = Callable[[Any, dict[str, Any]], None]


@dataclass(frozen=True)
class Arg:
    """The arguments of one ``parser.add_argument`` call, declared next to the handler."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    args: tuple[Arg, ...]
    handler: Handler


def subcommand(name: str, *, help: str, args: Sequence[Arg] = ()) -> Callable[[Handler], Handler]:
    """Declare a method ``handler(self, options)`` as the subcommand ``name``."""

    def register(handler: Handler) -> Handler:
        handler.subcommand = Subcommand(name, help, tuple(args), handler)  # type: ignore[attr-defined]
        return handler

    return register


class SubcommandsCommand(BaseCommand):
    """Builds one subparser per ``@subcommand`` method (in definition order) and dispatches."""

    @classmethod
    def subcommands(cls) -> dict[str, Subcommand]:
        found: dict[str, Subcommand] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                spec = getattr(value, "subcommand", None)
                if isinstance(spec, Subcommand):
                    found[spec.name] = spec
        return found

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(
            dest="subcommand", required=True, metavar="SUBCOMMAND", title="subcommands"
        )
        for spec in self.subcommands().values():
            sub = subparsers.add_parser(spec.name, help=spec.help, description=spec.help)
            for argument in spec.args:
                sub.add_argument(*argument.flags, **argument.options)
            sub.add_argument(
                "--json", action="store_true", help="print JSON (keys documented in README)"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        self.subcommands()[options["subcommand"]].handler(self, options)

    def write_json(self, value: Any) -> None:
        self.stdout.write(json.dumps(value, indent=2, ensure_ascii=False))


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1, with a message naming the value."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be 1 or more")
    return number


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, ``None`` stays ``None``: stable for scripts whatever ``TIME_ZONE`` is."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def utc_text(value: datetime | None) -> str:
    """``2026-01-14 09:05:00`` (UTC) for tables, ``-`` when unknown."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def validation_messages(exc: ValidationError, labels: dict[str, str] | None = None) -> str:
    """One line per problem, each prefixed by the option (or field) it concerns."""
    labels = labels or {}
    if not hasattr(exc, "error_dict"):
        return "; ".join(exc.messages)
    lines: list[str] = []
    for name, messages in exc.message_dict.items():
        prefix = "" if name == "__all__" else f"{labels.get(name, name)}: "
        lines.extend(f"{prefix}{message}" for message in messages)
    return "; ".join(lines)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left-aligned text table for terminals."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
