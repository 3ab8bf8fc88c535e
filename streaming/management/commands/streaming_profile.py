"""``manage.py streaming_profile add|list|rotate-secret|disable|sync``: profiles from a
terminal.

A secret is printed exactly once, when it is generated (``add`` without ``--no-secret`` or
``--secret-from-env``, and ``rotate-secret``); every other output shows it masked.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from ringadmin.vendors import ringcx
from streaming.management.subcommands import (
    SubcommandsCommand,
    arg,
    iso_utc,
    positive_int,
    subcommand,
    table,
    utc_text,
    validation_messages,
)
from streaming.profiles import sync
from streaming.profiles.models import ProductType, StreamingProfile, product_type_normalize
from streaming.profiles.services import (
    streaming_profile_create,
    streaming_profile_disable,
    streaming_profile_rotate_secret,
)

# Model field → the option that sets it, so validation errors name what the operator typed.
OPTION_FOR_FIELD = {
    "product_type": "--product-type",
    "product_id": "--product-id",
    "sub_account_id": "--sub-account",
    "main_account_id": "--main-account",
    "rc_account_id": "--rc-account",
    "streaming_url": "--url",
    "secret": "--secret-from-env",
    "retention_days": "--retention-days",
    "notes": "--notes",
}
SHOWN_ONCE = "Copy it now: it will not be shown again."
MAX_RETRIES_OPTION = 100


def non_negative_int(value: str) -> int:
    """An argparse type for ``--retries``: 0 to ``MAX_RETRIES_OPTION``."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= number <= MAX_RETRIES_OPTION:
        raise argparse.ArgumentTypeError(f"{value!r} must be 0 to {MAX_RETRIES_OPTION}")
    return number


def product_type(value: str) -> str:
    """An argparse type accepting ``queue``/``Queue``/``QUEUE`` and naming the choices if not."""
    normalized = product_type_normalize(value)
    if normalized is None:
        choices = " or ".join(ProductType.values)
        raise argparse.ArgumentTypeError(f"unknown product type {value!r}: choose {choices}")
    return normalized


def profile_as_dict(profile: StreamingProfile) -> dict[str, Any]:
    """The stable JSON shape of a profile; the secret only ever appears masked here."""
    return {
        "id": profile.pk,
        "product_type": profile.product_type,
        "product_id": profile.product_id,
        "sub_account_id": profile.sub_account_id,
        "main_account_id": profile.main_account_id,
        "rc_account_id": profile.rc_account_id,
        "streaming_url": profile.streaming_url,
        "enabled": profile.enabled,
        "has_secret": bool(profile.secret),
        "secret_masked": profile.masked_secret,
        "secret_rotated_at": iso_utc(profile.secret_rotated_at),
        "retention_days": profile.retention_days,
        "notes": profile.notes,
        "created_at": iso_utc(profile.created_at),
        "updated_at": iso_utc(profile.updated_at),
    }


def profile_get(profile_id: int) -> StreamingProfile:
    profile = StreamingProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        raise CommandError(f"no streaming profile with id {profile_id}")
    return profile


class Command(SubcommandsCommand):
    help = "Manage RingCX streaming profiles: add, list, rotate-secret, disable, sync."

    @subcommand(
        "add",
        help="Create a profile; prints its id and, when generated, its secret once.",
        args=(
            arg("--product-type", required=True, type=product_type, metavar="QUEUE|CAMPAIGN"),
            arg("--product-id", required=True, type=positive_int, metavar="N"),
            arg("--sub-account", required=True, metavar="ID", help="RingCX sub-account id"),
            arg("--main-account", required=True, metavar="ID", help="RingCX main account id"),
            arg("--rc-account", required=True, metavar="ID", help="RingCentral account id"),
            arg("--url", required=True, metavar="wss://host[:port]", help="this server's URL"),
            arg("--no-secret", action="store_true", help="create the profile without a secret"),
            arg(
                "--secret-from-env",
                metavar="VARIABLE",
                help="use the secret in this environment variable instead of generating one",
            ),
            arg("--disabled", action="store_true", help="create it disabled"),
            arg("--retention-days", type=positive_int, metavar="N"),
            arg("--notes", default=""),
        ),
    )
    def add_profile(self, options: dict[str, Any]) -> None:
        variable = options["secret_from_env"]
        if variable and options["no_secret"]:
            raise CommandError("--no-secret and --secret-from-env exclude each other")
        secret = None
        if variable:
            secret = os.environ.get(variable, "")
            if not secret:
                raise CommandError(f"environment variable {variable} is empty or not set")
        extra = {}
        if options["retention_days"] is not None:
            extra["retention_days"] = options["retention_days"]
        try:
            profile = streaming_profile_create(
                product_type=options["product_type"],
                product_id=options["product_id"],
                sub_account_id=options["sub_account"],
                main_account_id=options["main_account"],
                rc_account_id=options["rc_account"],
                streaming_url=options["url"],
                secret=secret,
                with_secret=not options["no_secret"],
                enabled=not options["disabled"],
                notes=options["notes"],
                **extra,
            )
        except ValidationError as exc:
            raise CommandError(validation_messages(exc, OPTION_FOR_FIELD)) from None
        generated = profile.secret if profile.secret and not variable else None
        if options["json"]:
            self.write_json({**profile_as_dict(profile), "secret": generated})
            return
        state = "enabled" if profile.enabled else "disabled"
        self.stdout.write(
            self.style.SUCCESS(f"Created streaming profile {profile.pk}, {state}: {profile}.")
        )
        if generated:
            self.stdout.write(f"Secret: {generated}")
            self.stdout.write(SHOWN_ONCE)
        elif profile.secret:
            self.stdout.write(f"Secret: taken from {variable} ({profile.masked_secret}).")
        else:
            self.stdout.write(
                self.style.WARNING(
                    "No secret: the ingest accepts this product's streams without one."
                )
            )

    @subcommand("list", help="List profiles, secrets masked.")
    def list_profiles(self, options: dict[str, Any]) -> None:
        profiles = list(StreamingProfile.objects.all())
        if options["json"]:
            self.write_json([profile_as_dict(p) for p in profiles])
            return
        if not profiles:
            self.stdout.write("No streaming profiles.")
            return
        rows = [
            (
                p.pk,
                p.product_type,
                p.product_id,
                p.sub_account_id,
                p.streaming_url,
                "yes" if p.enabled else "no",
                p.masked_secret,
                p.retention_days,
                utc_text(p.updated_at),
            )
            for p in profiles
        ]
        headers = ("ID", "TYPE", "PRODUCT", "SUB-ACCOUNT", "URL", "ENABLED", "SECRET", "KEEP DAYS")
        self.stdout.write(table((*headers, "UPDATED (UTC)"), rows))

    @subcommand(
        "rotate-secret",
        help="Issue a new secret (printed once); the previous one works for a short grace.",
        args=(arg("profile_id", type=int, metavar="ID"),),
    )
    def rotate_secret(self, options: dict[str, Any]) -> None:
        profile = profile_get(options["profile_id"])
        secret = streaming_profile_rotate_secret(profile=profile)
        profile.refresh_from_db()
        grace_until = iso_utc(profile.previous_secret_valid_until)
        if options["json"]:
            self.write_json(
                {"id": profile.pk, "secret": secret, "previous_secret_valid_until": grace_until}
            )
            return
        self.stdout.write(self.style.SUCCESS(f"New secret for profile {profile.pk}: {profile}."))
        self.stdout.write(f"Secret: {secret}")
        self.stdout.write(SHOWN_ONCE)
        if grace_until:
            self.stdout.write(f"The previous secret keeps working until {grace_until}.")

    @subcommand(
        "disable",
        help="Stop accepting streams for this profile.",
        args=(arg("profile_id", type=int, metavar="ID"),),
    )
    def disable_profile(self, options: dict[str, Any]) -> None:
        profile = streaming_profile_disable(profile=profile_get(options["profile_id"]))
        if options["json"]:
            self.write_json(profile_as_dict(profile))
            return
        message = f"Disabled streaming profile {profile.pk}: {profile}."
        self.stdout.write(self.style.SUCCESS(message))

    @subcommand(
        "sync",
        help="Push profiles to RingCX now (or, with --verify, only compare), with progress; "
        "outages and rate limits are retried as the background task retries them.",
        args=(
            arg("profile_id", type=int, nargs="?", metavar="ID"),
            arg("--all", action="store_true", help="every profile"),
            arg("--verify", action="store_true", help="compare with RingCX, change nothing"),
            arg(
                "--retries",
                type=non_negative_int,
                metavar="N",
                help="retry an outage or rate limit at most N times (default: as the "
                "background task, 8; 0: try once)",
            ),
        ),
    )
    def sync_profiles(self, options: dict[str, Any]) -> None:
        if bool(options["all"]) == (options["profile_id"] is not None):
            raise CommandError("give one profile ID or --all")
        if options["verify"] and options["retries"] is not None:
            raise CommandError("--retries applies to a push, not to --verify")
        if not ringcx.vendors_configured():
            raise CommandError(
                "RingCX is not configured: set RINGCENTRAL_CLIENT_ID, RINGCENTRAL_CLIENT_SECRET "
                "and RINGCENTRAL_JWT (see README, “Connecting a real RingCentral account”)"
            )
        ids = (
            list(StreamingProfile.objects.order_by("pk").values_list("pk", flat=True))
            if options["all"]
            else [profile_get(options["profile_id"]).pk]
        )
        max_retries = (
            sync.PROFILE_SYNC_RETRY.max_retries
            if options["retries"] is None
            else options["retries"]
        )
        # Progress goes to stderr with --json, so that stdout stays one JSON document.
        progress = self.stderr if options["json"] else self.stdout
        results = []
        for position, profile_id in enumerate(ids, start=1):
            prefix = f"[{position}/{len(ids)}] profile {profile_id}"

            def announce(error: Exception, retry: int, delay: float, prefix: str = prefix) -> None:
                progress.write(
                    f"{prefix}: {error} Retrying in {delay:.1f} s (retry {retry} of {max_retries})."
                )

            if options["verify"]:
                result = sync.streaming_profile_verify(profile_id=profile_id)
            else:
                result = sync.streaming_profile_push_now(
                    profile_id=profile_id,
                    max_retries=max_retries,
                    on_retry=announce,
                    sleep=self.sleep,
                )
            outcome, detail = result.action, result.detail
            if result.drift:
                detail = "differs: " + ", ".join(sorted(result.drift))
            results.append({"id": profile_id, "outcome": outcome, "detail": detail})
            if not options["json"]:
                self.stdout.write(f"{prefix}: {outcome}" + (f" ({detail})" if detail else ""))
        if options["json"]:
            self.write_json(results)
        failed = [r for r in results if r["outcome"] == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} profile(s) failed; see above")

    # The wait between retries; a test replaces it to see the waits without spending them.
    sleep = staticmethod(time.sleep)
