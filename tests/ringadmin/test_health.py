from __future__ import annotations

import pytest
from django.test import override_settings

from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_healthz_reports_each_dependency(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) == {"database", "channel_layer", "broker"}
    assert all(dep["ok"] for dep in body["dependencies"].values())


def test_healthz_is_503_when_the_channel_layer_is_down(client) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    layers = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    from channels.layers import channel_layers

    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        try:
            response = client.get("/healthz")
        finally:
            channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["channel_layer"]["ok"] is False
    assert body["dependencies"]["channel_layer"]["error"]
    assert body["dependencies"]["database"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_down(client) -> None:
    from ringadmin.celery import app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    original = app.conf.broker_url
    app.conf.broker_url = dead
    try:
        with override_settings(CELERY_BROKER_URL=dead):
            response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["dependencies"]["broker"]["ok"] is False


@pytest.mark.needs_redis
def test_healthz_on_real_redis(client) -> None:
    body = client.get("/healthz").json()
    assert body["dependencies"]["channel_layer"]["backend"] == "RedisChannelLayer"
    assert body["dependencies"]["broker"]["backend"] == "redis"
    assert body["dependencies"]["broker"]["ok"] is True


@pytest.mark.needs_postgres
def test_healthz_on_real_postgres(client) -> None:
    assert client.get("/healthz").json()["dependencies"]["database"]["backend"] == "postgresql"
