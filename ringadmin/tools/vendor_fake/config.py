"""The fake's run-time configuration (``POST /_fake/config``), shared by both vendors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from . import seed

DEFAULT_MEDIA_PRODUCT_BASE_PATH = "/platform/api/media/product"
OLD_MEDIA_PRODUCT_BASE_PATH = "/media-distributor/product"
RATE_LIMIT_GROUPS = ("Light", "Medium", "Heavy", "Auth")


@dataclass
class FakeConfig:
    """What a test or user may change at run time (``POST /_fake/config``)."""

    client_id: str
    client_secret: str
    jwt: str
    access_token_ttl: float = 3600
    refresh_token_ttl: float = 604_800
    ringcx_access_token_ttl: float = 300
    ringcx_refresh_token_ttl: float = 86_400
    ringcx_exchange_limit: int = 5  # exchanges of a platform token per minute
    rate_limits: dict[str, int] = field(
        default_factory=lambda: {"Light": 50, "Medium": 40, "Heavy": 10, "Auth": 5}
    )
    rate_limit_window: float = 60
    rate_limit_penalty: float = 60  # how long a group stays blocked once exceeded
    webhook_validation_timeout: float = 3.0
    webhook_max_response_bytes: int = 1024
    delivery_timeout: float = 5.0
    media_product_base_paths: list[str] = field(
        default_factory=lambda: [DEFAULT_MEDIA_PRODUCT_BASE_PATH]
    )
    ringcx_sub_account_ids: list[str] = field(
        default_factory=lambda: list(seed.RINGCX_SUB_ACCOUNT_IDS)
    )

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial change, checking names and types first so a typo fails loudly."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(current, str):
                if not isinstance(value, str) or not value:
                    raise ValueError(f"{name} must be a non-empty string")
            elif isinstance(current, int | float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a number >= 0")
                value = type(current)(value)
            elif isinstance(current, dict):
                if not isinstance(value, dict) or not set(value) <= set(RATE_LIMIT_GROUPS):
                    raise ValueError(f"{name} must map {'/'.join(RATE_LIMIT_GROUPS)} to ints")
                if any(isinstance(v, bool) or not isinstance(v, int) for v in value.values()):
                    raise ValueError(f"{name} must map {'/'.join(RATE_LIMIT_GROUPS)} to ints")
                value = {**current, **value}
            elif isinstance(current, list):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of strings")
                if name == "media_product_base_paths":
                    value = [normalise_base_path(v) for v in value]
            checked[name] = value
        for name, value in checked.items():
            setattr(self, name, value)

    def public(self) -> dict[str, Any]:
        return asdict(self)


def normalise_base_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("/_fake"):
        raise ValueError(f"bad media product base path: {path!r}")
    return path.rstrip("/")
