"""``manage.py api_token create|revoke|list``: API tokens from a terminal.

``create`` prints the token exactly once; every other output shows only its prefix. Each
subcommand takes ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ringadmin.api_tokens.models import ApiToken
from ringadmin.api_tokens.services import api_token_create, api_token_revoke

SHOWN_ONCE = "Copy it now: it will not be shown again."
MAX_EXPIRES_DAYS = 3650


def expires_days(value: str) -> int:
    """An argparse type: whole days, 1 to ``MAX_EXPIRES_DAYS``."""
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= days <= MAX_EXPIRES_DAYS:
        raise argparse.ArgumentTypeError(f"{value!r} must be 1 to {MAX_EXPIRES_DAYS}")
    return days


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def token_as_dict(token: ApiToken, *, now: datetime) -> dict[str, Any]:
    """The stable JSON shape of a token: never its secret."""
    return {
        "prefix": token.prefix,
        "name": token.name,
        "user": token.user.get_username(),
        "state": token.state(now=now),
        "created_at": _iso(token.created_at),
        "last_used_at": _iso(token.last_used_at),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
    }


class Command(BaseCommand):
    help = "Create, revoke and list per-user API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="SUBCOMMAND")
        create = sub.add_parser("create", help="issue a token for a user (printed once)")
        create.add_argument("--user", required=True, help="username of the token's holder")
        create.add_argument("--name", default="", help="what the token is for")
        create.add_argument(
            "--expires-days",
            type=expires_days,
            help="valid this many days (default: until revoked)",
        )
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix", help="the token's first 8 characters, as `list` shows")
        listing = sub.add_parser("list", help="tokens, newest first")
        listing.add_argument("--user", help="only this user's tokens")
        for subparser in (create, revoke, listing):
            subparser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        days = options["expires_days"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        name = options["name"] or f"created {timezone.now():%Y-%m-%d} from the command line"
        try:
            issued = api_token_create(user=user, name=name, expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if options["json"]:
            shape = token_as_dict(issued.token, now=timezone.now())
            self.stdout.write(json.dumps({**shape, "token": issued.secret}, indent=2))
            return
        self.stdout.write(f"API token for {user.get_username()} ({issued.token.prefix}…):")
        self.stdout.write(issued.secret)
        self.stdout.write(self.style.WARNING(SHOWN_ONCE))

    def _revoke(self, options: dict[str, Any]) -> None:
        matches = list(ApiToken.objects.select_related("user").filter(prefix=options["prefix"]))
        if not matches:
            raise CommandError(f"no API token with prefix {options['prefix']!r}")
        if len(matches) > 1:
            raise CommandError(
                f"{len(matches)} tokens share prefix {options['prefix']!r}: revoke in the admin"
            )
        token = matches[0]
        revoked = api_token_revoke(token=token)
        if options["json"]:
            shape = token_as_dict(token, now=timezone.now())
            self.stdout.write(json.dumps({**shape, "revoked_now": revoked}, indent=2))
        elif revoked:
            self.stdout.write(self.style.SUCCESS(f"Revoked {token}."))
        else:
            self.stdout.write(f"{token} was already revoked.")

    def _list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user")
        if options["user"]:
            tokens = tokens.filter(user__username=options["user"])
        now = timezone.now()
        rows = [token_as_dict(token, now=now) for token in tokens]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        headers = ("PREFIX", "USER", "STATE", "NAME", "LAST USED", "EXPIRES")
        cells = [
            [
                r["prefix"],
                r["user"],
                r["state"],
                r["name"],
                r["last_used_at"] or "-",
                r["expires_at"] or "-",
            ]
            for r in rows
        ]
        widths = [max(len(str(row[i])) for row in [headers, *cells]) for i in range(len(headers))]
        for row in [headers, *cells]:
            self.stdout.write(
                "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
