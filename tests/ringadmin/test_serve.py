"""``manage.py serve`` in demo mode points its children at the local fake through their
environment, and never changes its own settings or environment while it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

from django.conf import settings
from django.test import override_settings

from ringadmin.management.commands.serve import Command
from tests.conftest import free_port


@override_settings(DEBUG=True, RINGCENTRAL_CLIENT_ID="")
def test_demo_mode_reaches_the_children_through_their_environment(monkeypatch) -> None:
    ran: list[tuple[list[str], dict[str, str]]] = []

    def run(argv, *, env, **kwargs):
        ran.append((argv, env))
        return subprocess.CompletedProcess(argv, 0, stdout="1 profile(s) synced\n")

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setenv("FAKE_RINGCENTRAL_PORT", str(free_port()))
    environment = dict(os.environ)
    before = {
        name: getattr(settings, name)
        for name in dir(settings)
        if name.startswith(("RINGCENTRAL_", "RINGCX_", "RINGADMIN_"))
    }
    command = Command(stdout=StringIO(), stderr=StringIO())
    fake, child_env = command._start_demo_fake({"demo_fake": "auto", "port": 0})
    try:
        assert fake is not None
        assert child_env["RINGCENTRAL_SERVER_URL"] == fake.url
        assert child_env["RINGADMIN_DEMO_FAKE"] == "true"
        assert child_env["RINGCENTRAL_CLIENT_ID"]
        # the profiles are synced by a child that has the fake's environment
        [(argv, env)] = ran
        assert argv[:2] == [sys.executable, "-m"]
        assert argv[-3:] == ["streaming_profile", "sync", "--all"]
        assert {k: env[k] for k in child_env} == child_env
        assert "1 profile(s) synced" in command.stdout.getvalue()
        # and this process is as it was
        assert dict(os.environ) == environment
        assert {name: getattr(settings, name) for name in before} == before
    finally:
        fake.stop()
