"""What arrives with an ingest handshake: tolerant parameter names and the secret's location.

RingCX's handshake query is not fully documented, so every parameter is kept as it arrived
and the known ones are also read under their usual variants, case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ringadmin.logging import redact_mapping

# canonical name → accepted spellings (compared lower-case, without "_" and "-")
PARAMETER_ALIASES: dict[str, tuple[str, ...]] = {
    "callId": ("callid", "call", "ringcxcallid", "uii"),
    "sessionId": ("sessionid", "session", "sid"),
    "ani": ("ani", "from", "caller", "callerid", "callernumber"),
    "dnis": ("dnis", "to", "called", "callednumber", "dialednumber", "dialled"),
    "accountId": ("accountid", "account", "mainaccountid", "ringcxaccountid"),
    "subaccountId": ("subaccountid", "subaccount", "subacct"),
    "rcAccountId": ("rcaccountid", "rcaccount", "ringcentralaccountid"),
    "agentId": ("agentid", "agent"),
    "productType": ("producttype", "product", "type"),
    "productId": ("productid", "queueid", "campaignid", "gateid"),
}
_LOOKUP = {
    alias: canonical for canonical, aliases in PARAMETER_ALIASES.items() for alias in aliases
}
SECRET_QUERY_NAMES = ("secret", "token", "authtoken", "accesstoken", "auth", "key", "apikey")
SECRET_HEADERS = (
    b"x-ringcx-secret",
    b"x-streaming-secret",
    b"x-secret",
    b"x-auth-token",
    b"x-api-key",
    b"secret",
    b"token",
)


def _squash(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


@dataclass
class Handshake:
    client: str
    path: str
    raw_params: dict[str, str]
    params: dict[str, str]  # canonical names
    header_names: list[str]
    secret: str | None = None
    secret_source: str = "none"  # noqa: S105 - where the secret came from
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def redacted_params(self) -> dict[str, Any]:
        return redact_mapping(self.raw_params)

    def as_record(self) -> dict[str, Any]:
        """What is stored on the call: every parameter (secrets masked) and its header names."""
        return {
            "params": self.redacted_params,
            "header_names": self.header_names,
            "client": self.client,
            "secret_source": self.secret_source,
        }


def handshake_parse(scope: dict[str, Any]) -> Handshake:
    query = scope.get("query_string", b"")
    raw = dict(
        parse_qsl(
            query.decode("latin-1") if isinstance(query, bytes) else query, keep_blank_values=True
        )
    )
    params: dict[str, str] = {}
    secret, source = None, "none"
    for name, value in raw.items():
        squashed = _squash(name)
        canonical = _LOOKUP.get(squashed)
        if canonical is not None and canonical not in params:
            params[canonical] = value.strip()
            if squashed in ("queueid", "gateid"):
                params.setdefault("productType", "Queue")
            elif squashed == "campaignid":
                params.setdefault("productType", "Campaign")
        if squashed in SECRET_QUERY_NAMES and value and secret is None:
            secret, source = value, f"query:{name}"
    headers = scope.get("headers") or []
    for key, value in headers:
        lower = key.lower()
        if lower == b"authorization" and value:
            text = value.decode("latin-1").strip()
            scheme, _, credential = text.partition(" ")
            secret = (
                credential.strip()
                if scheme.lower() in ("bearer", "token", "secret") and credential
                else text
            )
            source = "header:authorization"
            break
    if source == "none" or source.startswith("query"):
        for key, value in headers:
            if key.lower() in SECRET_HEADERS and value:
                secret, source = value.decode("latin-1").strip(), f"header:{key.decode().lower()}"
                break
    client = scope.get("client") or ("", 0)
    return Handshake(
        client=f"{client[0]}:{client[1]}" if client and client[0] else "",
        path=scope.get("path", ""),
        raw_params=raw,
        params=params,
        header_names=sorted({k.decode("latin-1").lower() for k, _ in headers}),
        secret=secret or None,
        secret_source=source,
    )
