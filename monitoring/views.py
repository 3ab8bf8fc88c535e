"""Supervisors' pages."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import content_disposition_header
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_safe

from monitoring.call_page import call_page_call, call_page_context, recording_filename
from monitoring.call_search import (
    PRODUCT_TYPES,
    SORT_KEYS,
    CallQuery,
    search_calls,
)
from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.selectors import call_for_user
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from ringadmin.http_range import ranged_file_response
from ringadmin.storable import has_control_characters
from streaming.call_analysis import call_peaks_payload
from streaming.profiles.embed import (
    embed_call_for,
    embed_profile_for_key,
    embed_wrong_key_count,
    embed_wrong_keys_exceeded,
)
from streaming.recordings import recording_file
from streaming.transcription.exports import transcript_json, transcript_text, transcript_webvtt
from streaming.transcription.selectors import (
    call_transcript,
    embed_transcript_lines,
    transcript_turns,
)


@dataclass(frozen=True)
class SortHeader:
    """A sortable column heading: its link toggles the direction, ``aria_sort`` says the state."""

    label: str
    href: str
    aria_sort: str


def _sort_headers(query: CallQuery) -> dict[str, SortHeader]:
    headers = {}
    for name, key in SORT_KEYS.items():
        current = query.sort_key.name == name
        if current:
            next_sort = name if query.descending else f"-{name}"
            aria = "descending" if query.descending else "ascending"
        else:
            next_sort, aria = f"-{name}", "none"
        headers[name] = SortHeader(key.label, "?" + query.querystring(sort=next_sort), aria)
    return headers


@login_required
@permission_required("calls.view_call", raise_exception=True)
def call_list(request: HttpRequest) -> HttpResponse:
    """The calls the user may see, filtered, searched and sorted, one keyset page at a time."""
    query, errors = CallQuery.from_params(request.GET)
    page = search_calls(user=request.user, query=query)
    sort_options = [
        (f"{sign}{name}", f"{key.label} ({'highest' if sign else 'lowest'} first)")
        if key.value_kind != "datetime"
        else (f"{sign}{name}", f"{key.label} ({'newest' if sign else 'oldest'} first)")
        for name, key in SORT_KEYS.items()
        for sign in ("-", "")
    ]
    return render(
        request,
        "monitoring/call_list.html",
        {
            "query": query,
            "errors": errors,
            "page": page,
            "statuses": CallStatus.choices,
            "product_types": PRODUCT_TYPES,
            "sort_options": sort_options,
            "headers": _sort_headers(query),
            "base_querystring": query.querystring(),
        },
    )


# --- live calls --------------------------------------------------------------------------------


def call_page_url(call_id: int) -> str:
    """The call's own page (after it ends, its live page turns into it)."""
    try:
        return reverse("call-detail", args=[call_id])
    except NoReverseMatch:
        return f"/calls/{int(call_id)}/"


@login_required
@permission_required("calls.view_live_call", raise_exception=True)
def live_calls(request: HttpRequest) -> HttpResponse:
    """Every call streaming now; the list itself comes over ``/ws/calls/live/``."""
    return render(request, "monitoring/live_calls.html")


@login_required
@permission_required("calls.view_live_call", raise_exception=True)
def call_live(request: HttpRequest, call_id: int) -> HttpResponse:
    """One call as it streams (``/ws/calls/<id>/events/``); once over, its call page."""
    call = call_for_user(user=request.user, call_id=call_id)
    if call is None:
        raise Http404("No such call.")
    if call.status != CallStatus.LIVE:
        return redirect(call_page_url(call.pk))
    return render(
        request,
        "monitoring/call_live.html",
        {"call": call, "call_page_url": call_page_url(call.pk)},
    )


# --- the agent iFrame (RingCX agent script) ------------------------------------------------------

embed_logger = logging.getLogger("monitoring.agent_embed")
EMBED_CALL_ID_MAX = 64


@dataclass(frozen=True)
class EmbedRequest:
    """A /client request checked: the call it may show, or why it is refused."""

    status: int = 200
    problem: str = ""
    ringcx_call_id: str = ""
    call: Call | None = None


def _embed_check(request: HttpRequest) -> EmbedRequest:
    """Rate limit, then the key (constant time, every profile), then the call id."""
    client = request.META.get("REMOTE_ADDR") or "unknown"
    if embed_wrong_keys_exceeded(client=client):
        return EmbedRequest(429, "Too many wrong keys from this address: try again later.")
    profile = embed_profile_for_key(presented=request.GET.get("key", ""))
    if profile is None:
        count = embed_wrong_key_count(client=client)
        embed_logger.warning(
            "agent iFrame refused: wrong or missing embed key from %s (%d of %d allowed in %d s%s)",
            client,
            count,
            settings.AGENT_EMBED_MAX_WRONG_KEYS,
            settings.AGENT_EMBED_WRONG_KEY_WINDOW_SECONDS,
            "; no more keys checked from it in this window"
            if count >= settings.AGENT_EMBED_MAX_WRONG_KEYS
            else "",
        )
        return EmbedRequest(
            403,
            "This transcript link's key is not valid. Copy the agent script URL again from "
            "the streaming profile in ringadmin's admin (the key may have been rotated).",
        )
    ringcx_call_id = request.GET.get("callId", "")
    if (
        not ringcx_call_id
        or len(ringcx_call_id) > EMBED_CALL_ID_MAX
        or (has_control_characters(ringcx_call_id))
    ):
        embed_logger.info("agent iFrame: missing or invalid callId")
        return EmbedRequest(
            400,
            "This link needs the call's id: callId={{model.call.uii}} in the agent script URL.",
        )
    call = embed_call_for(profile=profile, ringcx_call_id=ringcx_call_id)
    return EmbedRequest(ringcx_call_id=ringcx_call_id, call=call)


def _embed_headers(response: HttpResponse) -> HttpResponse:
    """Framed by RingCX's agent application only; its own scripts only; never cached, and
    never a Referer carrying the key."""
    ancestors = " ".join(settings.AGENT_EMBED_FRAME_ANCESTORS)
    response["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _embed_state(call: Call | None) -> str:
    if call is None:
        return "unknown"
    return "live" if call.status == CallStatus.LIVE else "ended"


@xframe_options_exempt
@require_GET
def agent_client(request: HttpRequest) -> HttpResponse:
    """``/client?callId=…&key=…``: a call's live transcript inside RingCX's agent script."""
    checked = _embed_check(request)
    context: dict[str, object] = {"problem": checked.problem}
    if not checked.problem:
        call = checked.call
        lines = embed_transcript_lines(call_id=call.pk) if call is not None else []
        context.update(
            state=_embed_state(call),
            ringcx_call_id=checked.ringcx_call_id,
            lines=lines,
            after=lines[-1]["id"] if lines else 0,
            lines_url=reverse("agent-client-lines"),
            key=request.GET.get("key", ""),
        )
    response = render(request, "monitoring/agent_client.html", context, status=checked.status)
    return _embed_headers(response)


@xframe_options_exempt
@require_GET
def agent_client_lines(request: HttpRequest) -> HttpResponse:
    """What the iFrame polls every 2 s: the call's state and its lines after ``after``."""
    checked = _embed_check(request)
    if checked.problem:
        return _embed_headers(JsonResponse({"error": checked.problem}, status=checked.status))
    after_text = request.GET.get("after", "0")
    if not after_text.isascii() or not after_text.isdigit() or len(after_text) > 12:
        return _embed_headers(JsonResponse({"error": "after: a line number"}, status=400))
    call = checked.call
    lines = embed_transcript_lines(call_id=call.pk, after=int(after_text)) if call else []
    return _embed_headers(
        JsonResponse(
            {
                "state": _embed_state(call),
                "lines": lines,
                "after": lines[-1]["id"] if lines else int(after_text),
            }
        )
    )


# --- one call: the page, its recording, waveform and transcript downloads ----------------------


def _visible_call_or_404(request: HttpRequest, call_id: int) -> Call:
    call = call_for_user(user=request.user, call_id=call_id)
    if call is None:  # absent or not visible: the same answer, so ids reveal nothing
        raise Http404("No such call.")
    return call


@login_required
@permission_required("calls.view_call", raise_exception=True)
def call_detail(request: HttpRequest, call_id: int) -> HttpResponse:
    """The call page; its view is audited, and so is the transcript's when one is shown."""
    call = call_page_call(user=request.user, call_id=call_id)
    if call is None:
        raise Http404("No such call.")
    context = call_page_context(call=call, user=request.user)
    audit_record(
        event_type=AuditEventType.CALL_VIEWED,
        actor=request.user,
        target=call,
        call_id=call.pk,
        request=request,
    )
    transcript = context["transcript"]
    if transcript is not None and context["turns"]:
        audit_record(
            event_type=AuditEventType.TRANSCRIPT_VIEWED,
            actor=request.user,
            target=transcript,
            call_id=call.pk,
            data={"kind": transcript.kind, "engine": transcript.engine},
            request=request,
        )
    return render(request, "monitoring/call_detail.html", context)


def _recording(request: HttpRequest, call_id: int, *, download: bool) -> HttpResponseBase:
    call = _visible_call_or_404(request, call_id)
    path = recording_file(call)
    if path is None:
        return render(request, "monitoring/recording_missing.html", {"call": call}, status=404)
    response, answered = ranged_file_response(
        path=path,
        range_header=request.headers.get("Range"),
        content_type="audio/wav",
        filename=recording_filename(call, "wav"),
        as_attachment=download,
    )
    # One entry per playback or download, not per range a player asks for while seeking.
    starts_at_zero = response.status_code in (200, 206) and (
        answered is None or answered.start == 0
    )
    if request.method == "GET" and starts_at_zero:
        audit_record(
            event_type=(
                AuditEventType.RECORDING_DOWNLOADED if download else AuditEventType.RECORDING_PLAYED
            ),
            actor=request.user,
            target=call,
            call_id=call.pk,
            request=request,
        )
    return response


@require_safe
@login_required
@permission_required("calls.play_recording", raise_exception=True)
def call_recording(request: HttpRequest, call_id: int) -> HttpResponseBase:
    """The recording for the page's player, with HTTP Range (audited once per playback)."""
    return _recording(request, call_id, download=False)


@require_safe
@login_required
@permission_required("calls.download_recording", raise_exception=True)
def call_recording_download(request: HttpRequest, call_id: int) -> HttpResponseBase:
    """The recording as an attachment (audited once per download)."""
    return _recording(request, call_id, download=True)


@require_safe
@login_required
@permission_required("calls.view_call", raise_exception=True)
def call_peaks(request: HttpRequest, call_id: int) -> JsonResponse:
    """The stored waveform of both channels, for the page's canvas."""
    call = _visible_call_or_404(request, call_id)
    payload = call_peaks_payload(call=call)
    if payload is None:
        return JsonResponse({"error": "This call has not been analysed yet."}, status=404)
    response = JsonResponse(payload)
    response["Cache-Control"] = "private, max-age=3600"
    return response


TRANSCRIPT_FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "vtt": "text/vtt; charset=utf-8",
}


@require_safe
@login_required
@permission_required("calls.view_call", raise_exception=True)
def call_transcript_download(request: HttpRequest, call_id: int, fmt: str) -> HttpResponse:
    """The transcript as text, JSON or WebVTT (audited)."""
    call = _visible_call_or_404(request, call_id)
    transcript = call_transcript(call=call)
    if transcript is None or fmt not in TRANSCRIPT_FORMATS:
        raise Http404("This call has no transcript.")
    turns = transcript_turns(transcript=transcript)
    if fmt == "txt":
        body = transcript_text(
            turns, heading=f"Call {call.ringcx_call_id}, {call.started_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    elif fmt == "vtt":
        body = transcript_webvtt(turns)
    else:
        document = transcript_json(
            turns,
            about={
                "call": {
                    "id": call.pk,
                    "ringcx_call_id": call.ringcx_call_id,
                    "started_at": call.started_at.isoformat(),
                },
                "transcript": {
                    "kind": transcript.kind,
                    "engine": transcript.engine,
                    "model": transcript.model,
                },
            },
        )
        body = json.dumps(document, ensure_ascii=False, indent=2)
    audit_record(
        event_type=AuditEventType.TRANSCRIPT_DOWNLOADED,
        actor=request.user,
        target=transcript,
        call_id=call.pk,
        data={"format": fmt},
        request=request,
    )
    response = HttpResponse(body, content_type=TRANSCRIPT_FORMATS[fmt])
    response["Content-Disposition"] = (
        content_disposition_header(True, recording_filename(call, f"transcript.{fmt}")) or ""
    )
    response["Cache-Control"] = "private, no-store"
    return response
