"""RingCentral platform routes: OAuth, account, monitoring groups, devices, presence,
supervision and webhook subscriptions, as RingCentral's API reference describes them.

Each route names its rate-limit group as RingCentral's API reference does, so a client's
pacing and 429 handling meet the same budget here as in production.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from . import seed
from .common import ApiError, Request, Response, iso, oauth_error, rc_error
from .platform_state import TELEPHONY_STATUS
from .state import FakeState

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
SIP_DEVICE_TYPES = frozenset({"SoftPhone", "HardPhone"})
MEDIA_SDP = ("sendOnly", "sendRecv")
OBSOLETE_SUPERVISE_FIELDS = {
    "deviceId": "supervisorDeviceId",
    "extensionNumber": "agentExtensionId (or agentExtensionNumber at session level)",
}

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # a regex matched against the whole path
    handler: Handler
    group: str  # rate-limit group
    needs_token: bool = True


# --- helpers ----------------------------------------------------------------------------------


def _account(account: str) -> str:
    if account not in ("~", seed.ACCOUNT_ID):
        raise rc_error(
            404,
            "CMN-102",
            "Resource for parameter [accountId] is not found",
            parameterName="accountId",
        )
    return seed.ACCOUNT_ID


def _extension_id(state: FakeState, extension: str) -> str:
    ext_id = seed.OWNER_EXTENSION_ID if extension == "~" else extension
    if ext_id not in state.extensions:
        raise rc_error(
            404,
            "CMN-102",
            "Resource for parameter [extensionId] is not found",
            parameterName="extensionId",
        )
    return ext_id


def _positive_int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise rc_error(400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name)
    return value


def paged(
    state: FakeState, request: Request, path: str, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """RingCentral's list envelope: ``uri``, ``records``, ``paging`` and ``navigation``."""
    page = _positive_int(request, "page", 1, 10**9)
    per_page = _positive_int(request, "perPage", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    total = len(records)
    total_pages = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    chunk = records[start : start + per_page]
    other = {k: v[0] for k, v in request.query.items() if k not in ("page", "perPage") and v}

    def uri(number: int) -> str:
        return f"{state.base_url}{path}?{urlencode({**other, 'page': number, 'perPage': per_page})}"

    paging: dict[str, Any] = {
        "page": page,
        "totalPages": total_pages,
        "perPage": per_page,
        "totalElements": total,
    }
    if chunk:
        paging["pageStart"] = start
        paging["pageEnd"] = start + len(chunk) - 1
    navigation = {"firstPage": {"uri": uri(1)}, "lastPage": {"uri": uri(total_pages)}}
    if page < total_pages:
        navigation["nextPage"] = {"uri": uri(page + 1)}
    if page > 1:
        navigation["previousPage"] = {"uri": uri(min(page - 1, total_pages))}
    return {"uri": uri(page), "records": chunk, "paging": paging, "navigation": navigation}


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise rc_error(400, "CMN-101", "Request body must be a JSON object")
    return body


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, str | int) else None


# --- OAuth --------------------------------------------------------------------------------------


def _check_client(state: FakeState, request: Request) -> None:
    header = request.header("authorization") or ""
    scheme, _, encoded = header.partition(" ")
    client_id = client_secret = ""
    if scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            client_id, _, client_secret = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
    with state.lock:
        good_id, good_secret = state.config.client_id, state.config.client_secret
    if not (
        hmac.compare_digest(client_id.encode(), good_id.encode())
        & hmac.compare_digest(client_secret.encode(), good_secret.encode())
    ):
        raise oauth_error(
            401,
            "invalid_client",
            "Invalid client: send the app's client id and secret by HTTP Basic",
        )
    if request.content_type != "application/x-www-form-urlencoded":
        raise oauth_error(
            400,
            "invalid_request",
            "Unsupported Content-Type: send the form as application/x-www-form-urlencoded",
        )


def token(state: FakeState, request: Request) -> Response:
    _check_client(state, request)
    form = request.form()
    grant = form.get("grant_type")
    if grant == JWT_GRANT:
        with state.lock:
            good_jwt = state.config.jwt
        assertion = form.get("assertion", "")
        if not assertion or not hmac.compare_digest(assertion.encode(), good_jwt.encode()):
            raise oauth_error(400, "invalid_grant", "Invalid JWT token: the assertion is not valid")
        return Response(200, state.issue_platform_tokens())
    if grant == "refresh_token":
        if not state.use_refresh_token(form.get("refresh_token", "")):
            raise oauth_error(
                400, "invalid_grant", "Token not found: refresh tokens are single use"
            )
        return Response(200, state.issue_platform_tokens())
    raise oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant!r}")


def revoke(state: FakeState, request: Request) -> Response:
    _check_client(state, request)
    state.revoke(request.form().get("token", ""))
    return Response(200, None)


# --- account data -------------------------------------------------------------------------------


def account_info(state: FakeState, request: Request, account: str) -> Response:
    account_id = _account(account)
    uri = f"{state.base_url}/restapi/v1.0/account/{account_id}"
    return Response(
        200,
        {
            "uri": uri,
            "id": account_id,
            "mainNumber": seed.MAIN_NUMBER,
            "status": "Confirmed",
            "serviceInfo": {
                "uri": f"{uri}/service-info",
                "brand": {"id": "1210", "name": seed.BRAND_NAME, "homeCountry": {"id": "1"}},
            },
            "setupWizardState": "Completed",
        },
    )


def monitoring_groups(state: FakeState, request: Request, account: str) -> Response:
    account_id = _account(account)
    path = f"/restapi/v1.0/account/{account_id}/call-monitoring-groups"
    with state.lock:
        records = [
            {"id": g.id, "name": g.name, "uri": f"{state.base_url}{path}/{g.id}"}
            for g in state.groups.values()
        ]
    return Response(200, paged(state, request, path, records))


def monitoring_group_members(
    state: FakeState, request: Request, account: str, group_id: str
) -> Response:
    account_id = _account(account)
    with state.lock:
        group = state.groups.get(group_id)
        if group is None:
            raise rc_error(
                404,
                "CMN-102",
                "Resource for parameter [groupId] is not found",
                parameterName="groupId",
            )
        records = [
            {
                "id": ext_id,
                "uri": f"{state.base_url}/restapi/v1.0/account/{account_id}/extension/{ext_id}",
                "extensionNumber": state.extensions[ext_id].number,
                "permissions": list(permissions),
            }
            for ext_id, permissions in group.members
        ]
    path = f"/restapi/v1.0/account/{account_id}/call-monitoring-groups/{group_id}/members"
    return Response(200, paged(state, request, path, records))


def devices(state: FakeState, request: Request, account: str, extension: str) -> Response:
    account_id = _account(account)
    ext_id = _extension_id(state, extension)
    ext_uri = f"{state.base_url}/restapi/v1.0/account/{account_id}/extension/{ext_id}"
    with state.lock:
        ext = state.extensions[ext_id]
        records = [
            {
                "id": d.id,
                "uri": f"{state.base_url}/restapi/v1.0/account/{account_id}/device/{d.id}",
                "type": d.type,
                "name": d.name,
                "status": d.status,
                "serial": f"FAKE{d.id}",
                "linePooling": "None",
                # RingCentral gives this extension id as a number (a string elsewhere).
                "extension": {"id": int(ext.id), "uri": ext_uri, "extensionNumber": ext.number},
            }
            for d in sorted(state.devices.values(), key=lambda d: d.id)
            if d.extension_id == ext_id
        ]
    path = f"/restapi/v1.0/account/{account_id}/extension/{ext_id}/device"
    return Response(200, paged(state, request, path, records))


def _flag(request: Request, name: str) -> bool:
    return (request.arg(name) or "").lower() == "true"


def presence(state: FakeState, request: Request, account: str) -> Response:
    """Account presence: ``activeCalls`` only with ``detailedTelephonyState=true``, as in
    RingCentral, so a client that forgets the flag sees no calls here either."""
    account_id = _account(account)
    detailed, sip = _flag(request, "detailedTelephonyState"), _flag(request, "sipData")
    records = []
    with state.lock:
        calls_by_agent: dict[str, list] = {}
        for call in state.calls.values():
            calls_by_agent.setdefault(call.agent_extension_id, []).append(call)
        for ext in sorted(state.extensions.values(), key=lambda e: e.id):
            ext_uri = f"{state.base_url}/restapi/v1.0/account/{account_id}/extension/{ext.id}"
            calls = calls_by_agent.get(ext.id, [])
            record: dict[str, Any] = {
                "uri": f"{ext_uri}/presence",
                "extension": {"id": int(ext.id), "uri": ext_uri, "extensionNumber": ext.number},
                "presenceStatus": "Busy" if calls else "Available",
                "telephonyStatus": (
                    TELEPHONY_STATUS.get(calls[0].status, "Ringing") if calls else "NoCall"
                ),
                "userStatus": "Available",
                "dndStatus": "TakeAllCalls",
            }
            if detailed:
                record["activeCalls"] = [_active_call(call, sip) for call in calls]
            records.append(record)
    path = f"/restapi/v1.0/account/{account_id}/presence"
    return Response(200, paged(state, request, path, records))


def _active_call(call: seed.Call, sip: bool) -> dict[str, Any]:
    party = call.agent_party
    active: dict[str, Any] = {
        "id": f"{call.telephony_session_id}-call",
        "direction": call.direction,
        "from": party.from_["phoneNumber"],
        "to": party.to["phoneNumber"],
        "startTime": iso(call.start_time),
        "telephonyStatus": TELEPHONY_STATUS.get(call.status, "Ringing"),
        "sessionId": call.session_id,
        "telephonySessionId": call.telephony_session_id,
        "partyId": party.id,
    }
    if "name" in party.from_:
        active["fromName"] = party.from_["name"]
    if "name" in party.to:
        active["toName"] = party.to["name"]
    if sip:
        active["sipData"] = {
            "toTag": f"to-{call.session_id}",
            "fromTag": f"from-{call.session_id}",
            "remoteUri": f"sip:{call.customer_number}@fake.ringcentral.invalid",
            "localUri": f"sip:{seed.MAIN_NUMBER}@fake.ringcentral.invalid",
        }
    return active


# --- supervision --------------------------------------------------------------------------------


def supervise_session(
    state: FakeState, request: Request, account: str, session_id: str
) -> Response:
    _account(account)
    return _supervise(state, request, session_id, None)


def supervise_party(
    state: FakeState, request: Request, account: str, session_id: str, party_id: str
) -> Response:
    _account(account)
    return _supervise(state, request, session_id, party_id)


def _invalid(name: str, message: str) -> ApiError:
    return rc_error(400, "CMN-101", message, parameterName=name)


def _supervise(
    state: FakeState, request: Request, session_id: str, party_id: str | None
) -> Response:
    body = _json_object(request)
    for old, new in OBSOLETE_SUPERVISE_FIELDS.items():
        if old in body:
            raise _invalid(
                old,
                f"Parameter [{old}] is obsolete (renamed in 2023): use [{new}] instead",
            )
    if body.get("mode") != "Listen":
        raise _invalid("mode", "Parameter [mode] value is invalid: only 'Listen' is supported")
    if "autoAnswer" in body and not isinstance(body["autoAnswer"], bool):
        raise _invalid("autoAnswer", "Parameter [autoAnswer] value is invalid: true or false")
    if "mediaSDP" in body and body["mediaSDP"] not in MEDIA_SDP:
        raise _invalid("mediaSDP", "Parameter [mediaSDP] value is invalid: sendOnly or sendRecv")
    device_id = _id(body.get("supervisorDeviceId"))
    if device_id is None:
        raise _invalid("supervisorDeviceId", "Parameter [supervisorDeviceId] is required")
    agent_id = _id(body.get("agentExtensionId"))
    agent_number = _id(body.get("agentExtensionNumber")) if party_id is None else None
    if agent_id is None and agent_number is None:
        names = "[agentExtensionId]" if party_id else "[agentExtensionId] or [agentExtensionNumber]"
        raise _invalid("agentExtensionId", f"Parameter {names} is required")
    with state.lock:
        call = state.calls.get(session_id)
        if call is None:
            raise rc_error(
                404, "TAS-102", f"Telephony session [{session_id}] is not found or has ended"
            )
        party = None
        if party_id is not None:
            party = next((p for p in call.parties if p.id == party_id), None)
            if party is None:
                raise rc_error(
                    404, "TAS-103", f"Party [{party_id}] is not found in session [{session_id}]"
                )
        device = state.devices.get(device_id)
        if device is None:
            raise rc_error(
                404,
                "CMN-102",
                "Resource for parameter [supervisorDeviceId] is not found",
                parameterName="supervisorDeviceId",
            )
        if device.type not in SIP_DEVICE_TYPES:
            raise rc_error(
                400,
                "TAS-111",
                f"Device [{device.id}] of type {device.type} cannot receive supervision: "
                "use an online SoftPhone or HardPhone",
            )
        if device.status != "Online":
            raise rc_error(400, "TAS-112", f"Supervisor device [{device.id}] is offline")
        agent = _find_agent(state, agent_id, agent_number)
        if agent_id and agent_number and state.extensions[agent_id].number != agent_number:
            raise _invalid(
                "agentExtensionNumber",
                "Parameters [agentExtensionId] and [agentExtensionNumber] name different users",
            )
        if agent.id not in {p.extension_id for p in call.parties}:
            raise rc_error(
                400, "TAS-113", f"Extension [{agent.id}] is not a party of session [{session_id}]"
            )
        supervisor = state.extensions[device.extension_id]
        if not _may_monitor(state, supervisor.id, agent.id):
            raise rc_error(
                403,
                "CMN-408",
                f"In order to call this API endpoint, extension [{supervisor.id}] needs the "
                f"Monitoring permission in a call monitoring group where [{agent.id}] is Monitored",
            )
        current = state.supervisors.get(session_id)
        if current is not None and current != device.id:
            raise rc_error(
                409,
                "TAS-114",
                f"Session [{session_id}] is already supervised from device [{current}]: "
                "one supervisor, on one device, per call",
            )
        state.supervisors[session_id] = device.id
        key = (session_id, party_id or "*")
        supervisor_party = state.supervisor_parties.get(key)
        if supervisor_party is None:
            supervisor_party = _supervisor_party(
                call, supervisor, device.id, agent, len(state.supervisor_parties) + 1
            )
            state.supervisor_parties[key] = supervisor_party
    return Response(201, supervisor_party)


def _find_agent(state: FakeState, agent_id: str | None, agent_number: str | None) -> seed.Extension:
    if agent_id is not None:
        agent = state.extensions.get(agent_id)
        name = "agentExtensionId"
    else:
        agent = next((e for e in state.extensions.values() if e.number == agent_number), None)
        name = "agentExtensionNumber"
    if agent is None:
        raise rc_error(
            404, "CMN-102", f"Resource for parameter [{name}] is not found", parameterName=name
        )
    return agent


def _may_monitor(state: FakeState, supervisor_id: str, agent_id: str) -> bool:
    for group in state.groups.values():
        permissions = dict(group.members)
        if "Monitoring" in permissions.get(supervisor_id, ()) and "Monitored" in permissions.get(
            agent_id, ()
        ):
            return True
    return False


def _supervisor_party(
    call: seed.Call, supervisor: seed.Extension, device_id: str, agent: seed.Extension, n: int
) -> dict[str, Any]:
    return {
        "id": f"p-{call.telephony_session_id.removeprefix('s-')}-sv{n}",
        "name": supervisor.name,
        "owner": {"accountId": seed.ACCOUNT_ID, "extensionId": supervisor.id},
        "direction": "Outbound",
        "from": {
            "phoneNumber": seed.MAIN_NUMBER,
            "name": supervisor.name,
            "extensionId": supervisor.id,
            "deviceId": device_id,
        },
        "to": {"phoneNumber": seed.MAIN_NUMBER, "name": agent.name, "extensionId": agent.id},
        "status": {"code": "Answered", "reason": "Supervising"},
        "muted": False,
        "standAlone": False,
    }


# --- subscriptions ------------------------------------------------------------------------------


def create_subscription(state: FakeState, request: Request) -> Response:
    return Response(200, state.create_subscription(_json_object(request)))


def list_subscriptions(state: FakeState, request: Request) -> Response:
    records = state.list_subscriptions()
    return Response(200, {"uri": f"{state.base_url}/restapi/v1.0/subscription", "records": records})


def get_subscription(state: FakeState, request: Request, subscription_id: str) -> Response:
    return Response(200, state.get_subscription(subscription_id))


def renew_subscription(state: FakeState, request: Request, subscription_id: str) -> Response:
    return Response(200, state.renew_subscription(subscription_id))


def delete_subscription(state: FakeState, request: Request, subscription_id: str) -> Response:
    state.delete_subscription(subscription_id)
    return Response(204)


_ACC = r"/restapi/v1\.0/account/(?P<account>[^/]+)"
_SUB = r"/restapi/v1\.0/subscription"

ROUTES: tuple[Route, ...] = (
    Route("POST", r"/restapi/oauth/token", token, "Auth", needs_token=False),
    Route("POST", r"/restapi/oauth/revoke", revoke, "Auth", needs_token=False),
    Route("GET", _ACC, account_info, "Light"),
    Route("GET", _ACC + r"/call-monitoring-groups", monitoring_groups, "Medium"),
    Route(
        "GET",
        _ACC + r"/call-monitoring-groups/(?P<group_id>[^/]+)/members",
        monitoring_group_members,
        "Medium",
    ),
    Route("GET", _ACC + r"/extension/(?P<extension>[^/]+)/device", devices, "Light"),
    Route("GET", _ACC + r"/presence", presence, "Heavy"),
    Route(
        "POST",
        _ACC + r"/telephony/sessions/(?P<session_id>[^/]+)/supervise",
        supervise_session,
        "Light",
    ),
    Route(
        "POST",
        _ACC + r"/telephony/sessions/(?P<session_id>[^/]+)/parties/(?P<party_id>[^/]+)/supervise",
        supervise_party,
        "Light",
    ),
    Route("POST", _SUB, create_subscription, "Medium"),
    Route("GET", _SUB, list_subscriptions, "Light"),
    Route("GET", _SUB + r"/(?P<subscription_id>[^/]+)", get_subscription, "Light"),
    Route("POST", _SUB + r"/(?P<subscription_id>[^/]+)/renew", renew_subscription, "Medium"),
    Route("DELETE", _SUB + r"/(?P<subscription_id>[^/]+)", delete_subscription, "Medium"),
)
