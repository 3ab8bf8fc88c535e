"""What arrives with an ingest handshake: tolerant parameter names and the secret's location.

RingCX's handshake query is not fully documented, so every parameter is kept as it arrived
and the known ones are also read under their usual variants, case-insensitively. A query too
long, with too many parameters, or naming one thing twice is refused (``problem``): which of
two secrets or call ids to believe is not ours to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ringadmin.logging import SECRET_NAMES, redact_mapping, secret_name_squash
from ringadmin.storable import storable_text

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
SECRET_QUERY_NAMES = SECRET_NAMES  # one list: what is accepted as a secret is what is masked
MAX_QUERY_BYTES = 4096
MAX_PARAMETERS = 64
MAX_HEADER_NAMES = 64  # kept for the handshake log
SECRET_HEADERS = (
    b"x-ringcx-secret",
    b"x-streaming-secret",
    b"x-secret",
    b"x-auth-token",
    b"x-api-key",
    b"secret",
    b"token",
)


_squash = secret_name_squash


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
    problem: tuple[int, str] | None = None  # (HTTP status, reason) when it must be refused

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
    query = query.decode("latin-1") if isinstance(query, bytes) else query
    problem = None
    if len(query) > MAX_QUERY_BYTES:
        problem = (414, f"query string longer than {MAX_QUERY_BYTES} bytes")
        query = query[:MAX_QUERY_BYTES]  # what the log keeps
    pairs = parse_qsl(query, keep_blank_values=True)
    if len(pairs) > MAX_PARAMETERS:
        problem = problem or (400, f"more than {MAX_PARAMETERS} query parameters")
        pairs = pairs[:MAX_PARAMETERS]
    raw: dict[str, str] = {}
    params: dict[str, str] = {}
    seen: dict[str, str] = {}  # squashed name, or what it names → the name that came first
    secret, source = None, "none"
    for name, value in pairs:
        squashed = _squash(name)
        canonical = _LOOKUP.get(squashed)
        names = [squashed] + ([canonical] if canonical else [])
        if squashed in SECRET_QUERY_NAMES:
            names.append("the secret")
        repeated = next((seen[n] for n in names if n in seen), None)
        if repeated is not None:
            problem = problem or (
                400,
                f"query parameter {storable_text(name, 40)!r} repeats "
                f"{storable_text(repeated, 40)!r}",
            )
            continue
        seen.update(dict.fromkeys(names, name))
        raw[name] = value
        if canonical is not None:
            params[canonical] = value.strip()
            if squashed in ("queueid", "gateid"):
                params.setdefault("productType", "Queue")
            elif squashed == "campaignid":
                params.setdefault("productType", "Campaign")
        if squashed in SECRET_QUERY_NAMES and value:
            secret, source = value, f"query:{storable_text(name, 30)}"
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
    header_names = sorted({storable_text(k.decode("latin-1").lower(), 100) for k, _ in headers})
    return Handshake(
        client=f"{client[0]}:{client[1]}" if client and client[0] else "",
        path=scope.get("path", ""),
        raw_params=raw,
        params=params,
        header_names=header_names[:MAX_HEADER_NAMES],
        secret=secret or None,
        secret_source=source,
        problem=problem,
    )
