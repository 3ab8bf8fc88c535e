"""Create the demo accounts, the demo profile and recorded demo calls, once; print how to sign
in and how to stream a simulated call."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from ringadmin.compliance.roles import Role
from ringadmin.compliance.users import user_create
from streaming.profiles.models import StreamingProfile
from streaming.profiles.services import streaming_profile_create
from streaming.tools.demo.services import DEMO_PRODUCT, demo_calls_seed

DEMO_USERS = (("admin", Role.ADMIN), ("supervisor", Role.SUPERVISOR), ("auditor", Role.AUDITOR))


class Command(BaseCommand):
    help = "Create demo users (admin, supervisor, auditor) and demo calls for a first look."

    def handle(self, *args, **options) -> None:
        credentials_file = Path(settings.VAR_DIR) / "demo-credentials.txt"
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or self._stored_password(credentials_file)
        user_model = get_user_model()
        created = []
        with transaction.atomic():
            for username, role in DEMO_USERS:
                if user_model.objects.filter(username=username).exists():
                    continue
                user = user_create(
                    username=username,
                    email=f"{username}@example.com",
                    password=password,
                    role=role,
                    validate=False,
                )
                if role is Role.ADMIN:
                    user.is_superuser = True
                    user.save(update_fields=["is_superuser"])
                    user.groups.add(Group.objects.get(name=Role.ADMIN.value))
                created.append(username)
            profile_secret = self._seed_profile(password)
            seeded = demo_calls_seed()
        if created and "DEMO_ADMIN_PASSWORD" not in os.environ:
            credentials_file.parent.mkdir(parents=True, exist_ok=True)
            credentials_file.write_text(password + "\n")
            credentials_file.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Demo accounts (password shown once per setup):"))
        for username, role in DEMO_USERS:
            self.stdout.write(
                f"  {role.value[:-1]:<11} username={username:<11} password={password}"
            )
        if seeded:
            self.stdout.write(
                f"Recorded {len(seeded)} demo calls with real speech through the ingest's "
                "pipeline; the worker transcribes them once it runs: "
                + ", ".join(call.ringcx_call_id for call in seeded)
            )
        if profile_secret:
            self.stdout.write(
                "Demo streaming profile: Queue 1234. Stream a simulated call to it with:\n"
                f"  .venv/bin/python manage.py ringcx_simulate --url {self._ingest_url()} "
                f"--calls 2 --duration 20 --tone --product-type Queue --product-id 1234 "
                f"--secret {profile_secret}"
            )

    @staticmethod
    def _ingest_url() -> str:
        """Where ``manage.py serve`` (make run) will accept RingCX sockets, seen from here."""
        host = os.environ.get("HOST") or "127.0.0.1"
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # every interface: loopback
        if ":" in host:
            host = f"[{host}]"
        port = (
            settings.INGEST_PORT
            if settings.INGEST_SERVER == "websockets"
            else os.environ.get("PORT", "8000")
        )
        return f"ws://{host}:{port}/"

    @staticmethod
    def _stored_password(path: Path) -> str:
        if path.is_file():
            return path.read_text().strip()
        return secrets.token_urlsafe(12)

    @staticmethod
    def _seed_profile(secret: str) -> str | None:
        """A demo profile whose secret is the demo password, so the hint above stays valid."""
        existing = StreamingProfile.objects.filter(
            product_type="QUEUE", product_id=1234, sub_account_id="99990001"
        ).first()
        if existing is not None:
            return secret if existing.secret == secret else None
        streaming_profile_create(
            **DEMO_PRODUCT,
            streaming_url="wss://localhost",
            secret=secret,
            notes="Demo profile created by make run.",
        )
        return secret
