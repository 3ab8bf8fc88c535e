"""``manage.py fake_ringcentral --port 8900``: run the local fake of RingCentral and RingCX.

For demos and for checking a configuration without a real account: it prints the variables
that point ringadmin at it, logs one line per request (never a token or secret), and runs
until Ctrl-C. Its credentials are the fake's own, never read from the environment, so the
banner cannot print a real secret.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ringadmin.tools.vendor_fake import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_JWT,
    DEFAULT_MEDIA_PRODUCT_BASE_PATH,
    FakeRingCentral,
    run_until_interrupted,
)


class Command(BaseCommand):
    help = "Run a FAKE RingCentral + RingCX API on this machine (for testing; not a real account)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
        parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
        parser.add_argument("--jwt", default=DEFAULT_JWT)
        parser.add_argument(
            "--media-product-base-path",
            action="append",
            metavar="PATH",
            help=f"serve the media product API here (repeatable; default "
            f"{DEFAULT_MEDIA_PRODUCT_BASE_PATH}; the older one is /media-distributor/product)",
        )

    def handle(self, *args, **options) -> None:
        try:
            fake = FakeRingCentral(
                host=options["host"],
                port=options["port"],
                client_id=options["client_id"],
                client_secret=options["client_secret"],
                jwt=options["jwt"],
                media_product_base_path=options["media_product_base_path"]
                or DEFAULT_MEDIA_PRODUCT_BASE_PATH,
                log=self.stdout.write,
            )
            run_until_interrupted(fake, self.stdout.write)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot start the fake: {exc}") from None
