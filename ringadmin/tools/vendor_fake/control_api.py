"""The control API under ``/_fake/`` (no auth): what tests and users drive the fake with.

Every route calls the same ``FakeState`` method as the Python API, so both behave alike.
Errors here are plain ``{"error": "..."}``: they are the fake's, not a vendor's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .common import ApiError, Request, Response
from .state import FakeState

PREFIX = "/_fake"
FAULT_KEYS = frozenset(
    {
        "method",
        "path_regex",
        "status",
        "retry_after",
        "omit_retry_after",
        "delay",
        "body",
        "malformed",
        "disconnect",
        "times",
    }
)
NOTIFY_KEYS = {
    "telephonySessionId": "telephony_session_id",
    "status": "status",
    "reason": "reason",
    "parties": "parties",
    "sessionId": "session_id",
    "sequence": "sequence",
    "eventTime": "event_time",
    "serverId": "server_id",
    "origin": "origin",
    "repeat": "repeat",
}
CALL_KEYS = {
    "agentExtensionId": "agent_extension_id",
    "direction": "direction",
    "customerNumber": "customer_number",
    "status": "status",
    "notify": "notify",
}


def _bad(message: str, status: int = 400) -> ApiError:
    return ApiError(status, {"error": message})


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = request.json()
    except ValueError:
        raise _bad("body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _kwargs(body: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise _bad(f"unknown fields: {', '.join(unknown)}; known: {', '.join(names)}")
    return {names[key]: value for key, value in body.items()}


def state_view(state: FakeState, request: Request) -> Response:
    return Response(200, state.snapshot())


def reset(state: FakeState, request: Request) -> Response:
    state.reset()
    return Response(200, {"reset": True})


def get_config(state: FakeState, request: Request) -> Response:
    with state.lock:
        return Response(200, state.config.public())


def set_config(state: FakeState, request: Request) -> Response:
    try:
        return Response(200, state.configure(_body(request)))
    except ValueError as exc:
        raise _bad(str(exc)) from None


def list_faults(state: FakeState, request: Request) -> Response:
    with state.lock:
        return Response(200, {"faults": [f.describe() for f in state.faults]})


def add_fault(state: FakeState, request: Request) -> Response:
    body = _body(request)
    unknown = sorted(set(body) - FAULT_KEYS)
    if unknown:
        raise _bad(f"unknown fault fields: {', '.join(unknown)}")
    try:
        fault = state.add_fault(**body)
    except (TypeError, ValueError, re.error) as exc:
        raise _bad(f"bad fault: {exc}") from None
    return Response(201, {"id": fault.id, **fault.describe()})


def clear_faults(state: FakeState, request: Request) -> Response:
    state.clear_faults()
    return Response(204)


def remove_fault(state: FakeState, request: Request, fault_id: str) -> Response:
    if not state.remove_fault(fault_id):
        raise _bad(f"no fault {fault_id}", 404)
    return Response(204)


def expire_tokens(state: FakeState, request: Request) -> Response:
    state.expire_tokens()
    return Response(200, {"expired": True})


def advance_time(state: FakeState, request: Request) -> Response:
    seconds = _body(request).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise _bad("seconds must be a number >= 0")
    state.advance_time(seconds)
    return Response(200, {"clockOffset": state.clock_offset})


def list_requests(state: FakeState, request: Request) -> Response:
    try:
        records = state.requests(path_regex=request.arg("path_regex"), method=request.arg("method"))
    except re.error as exc:
        raise _bad(f"bad path_regex: {exc}") from None
    return Response(200, {"requests": records})


def clear_requests(state: FakeState, request: Request) -> Response:
    state.clear_requests()
    return Response(204)


def notify(state: FakeState, request: Request) -> Response:
    kwargs = _kwargs(_body(request), NOTIFY_KEYS)
    if "telephony_session_id" not in kwargs:
        raise _bad("telephonySessionId is required")
    try:
        return Response(200, state.notify(**kwargs))
    except (TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None


def list_calls(state: FakeState, request: Request) -> Response:
    return Response(200, {"calls": state.list_calls()})


def start_call(state: FakeState, request: Request) -> Response:
    kwargs = _kwargs(_body(request), CALL_KEYS)
    if "agent_extension_id" not in kwargs:
        raise _bad("agentExtensionId is required")
    try:
        return Response(201, state.start_call(**kwargs))
    except (TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None


def end_call(state: FakeState, request: Request, telephony_session_id: str) -> Response:
    notify_flag = (request.arg("notify") or "true").lower() != "false"
    try:
        return Response(200, state.end_call(telephony_session_id, notify=notify_flag))
    except KeyError:
        raise _bad(f"no active call {telephony_session_id}", 404) from None


def media_products(state: FakeState, request: Request) -> Response:
    return Response(200, {"mediaProducts": state.media_product_list()})


def subscriptions(state: FakeState, request: Request) -> Response:
    return Response(200, {"subscriptions": state.subscriptions_detail()})


def sink_receive(state: FakeState, request: Request) -> Response:
    """A ready-made webhook receiver: echoes ``Validation-Token`` and keeps what it gets."""
    token = request.header("validation-token")
    if token:
        return Response(200, None, {"Validation-Token": token})
    state.record_sink(request)
    return Response(200, None)


def sink_list(state: FakeState, request: Request) -> Response:
    with state.lock:
        return Response(200, {"received": list(state.sink)})


Handler = Callable[..., Response]
ROUTES: tuple[tuple[str, re.Pattern[str], Handler], ...] = tuple(
    (method, re.compile(PREFIX + pattern), handler)
    for method, pattern, handler in (
        ("GET", r"/state", state_view),
        ("POST", r"/reset", reset),
        ("GET", r"/config", get_config),
        ("POST", r"/config", set_config),
        ("GET", r"/faults", list_faults),
        ("POST", r"/faults", add_fault),
        ("DELETE", r"/faults", clear_faults),
        ("DELETE", r"/faults/(?P<fault_id>[^/]+)", remove_fault),
        ("POST", r"/expire-tokens", expire_tokens),
        ("POST", r"/advance-time", advance_time),
        ("GET", r"/requests", list_requests),
        ("DELETE", r"/requests", clear_requests),
        ("POST", r"/notify", notify),
        ("GET", r"/calls", list_calls),
        ("POST", r"/calls", start_call),
        ("DELETE", r"/calls/(?P<telephony_session_id>[^/]+)", end_call),
        ("GET", r"/media-products", media_products),
        ("GET", r"/subscriptions", subscriptions),
        ("POST", r"/webhook-sink", sink_receive),
        ("GET", r"/webhook-sink", sink_list),
    )
)


def dispatch(state: FakeState, request: Request) -> Response:
    for method, pattern, handler in ROUTES:
        found = pattern.fullmatch(request.path)
        if found and method == request.method:
            return handler(state, request, **found.groupdict())
    raise _bad(f"no control route {request.method} {request.path}", 404)
