"""Thin views: parse the request, ask the selectors (scoped by user), audit reads, respond.

Who may call what is the pages' rule: calls need ``view_call``; recordings ``play_recording``
(and ``download_recording`` to download); the audit trail ``view_auditevent``. Reading a call,
its transcript or its recording is recorded in the audit trail, with the client's address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework import exceptions, generics
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.api import schema  # noqa: F401 - registers the token's security scheme
from monitoring.api.filters import AuditEventQuery, QueryError
from monitoring.api.pagination import AuditEventCursorPagination, CallCursorPagination
from monitoring.api.permissions import CanPlayRecordings, CanViewAuditTrail, CanViewCalls
from monitoring.api.renderers import WebVTTRenderer
from monitoring.api.selectors import call_detail_for, call_transcript
from monitoring.api.serializers import (
    AuditEventSerializer,
    CallDetailSerializer,
    CallSerializer,
    ErrorSerializer,
    TranscriptSerializer,
)
from monitoring.call_search import PRODUCT_TYPES, CallQuery, filtered_calls
from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.selectors import call_for_user
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEvent, AuditEventType
from ringadmin.compliance.selectors import audit_events_visible_to
from ringadmin.http_range import ranged_file_response
from streaming.recordings import recording_file
from streaming.transcription.exports import transcript_webvtt

Q = TypeVar("Q")

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No, unknown, revoked or expired token."),
    403: OpenApiResponse(ErrorSerializer, description="The role does not allow this."),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such call for this user.")}
BAD_QUERY = {400: OpenApiResponse(description="A parameter's value is invalid (per parameter).")}
PERIOD = [
    OpenApiParameter(
        "from", OpenApiTypes.STR, description="From this date (2026-01-31) or ISO date-time."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.STR, description="Until this date (inclusive) or ISO date-time."
    ),
]
PAGE_SIZE = OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 200.")


def parsed(parse: Callable[[Mapping[str, str]], Q], params: Mapping[str, str]) -> Q:
    """``parse(params)``, a bad value becoming a 400 that names the parameter."""
    try:
        return parse(params)
    except QueryError as exc:
        raise exceptions.ValidationError(exc.errors) from None


class JsonErrorsMixin:
    """Errors as JSON whatever format the success would have had (WebVTT, YAML, HTML)."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    pass


class SwaggerView(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file (``?script``): the Content Security
    Policy allows no inline script."""


class RedocView(JsonErrorsMixin, SpectacularRedocView):
    template_name = "monitoring/api_redoc.html"  # without the web fonts of another host


def visible_call(request: Request, call_id: int) -> Call:
    call = call_for_user(user=request.user, call_id=call_id)
    if call is None:
        raise exceptions.NotFound("No such call.")
    return call


@extend_schema(
    summary="Calls the user may see, newest first",
    description="The calls page's filters and transcript search, with the same parameters.",
    parameters=[
        OpenApiParameter("from", OpenApiTypes.DATE, description="Started on or after this day."),
        OpenApiParameter("to", OpenApiTypes.DATE, description="Started on or before this day."),
        OpenApiParameter("agent", OpenApiTypes.STR, description="Agent id, exactly."),
        OpenApiParameter("caller", OpenApiTypes.STR, description="Caller number (ANI), exactly."),
        OpenApiParameter("dialled", OpenApiTypes.STR, description="Dialled (DNIS), exactly."),
        OpenApiParameter("product_type", OpenApiTypes.STR, enum=list(PRODUCT_TYPES)),
        OpenApiParameter("product_id", OpenApiTypes.STR, description="Queue or campaign id."),
        OpenApiParameter("status", OpenApiTypes.STR, enum=CallStatus.values),
        OpenApiParameter("recording", OpenApiTypes.BOOL, description="Has a recording."),
        OpenApiParameter("transcript", OpenApiTypes.BOOL, description="Has a transcript."),
        OpenApiParameter("min_overtalk", OpenApiTypes.NUMBER, description="Seconds, at least."),
        OpenApiParameter("min_monologue", OpenApiTypes.NUMBER, description="Seconds, at least."),
        OpenApiParameter("min_interruptions", OpenApiTypes.INT, description="At least."),
        OpenApiParameter("q", OpenApiTypes.STR, description="Words spoken (transcript search)."),
        PAGE_SIZE,
    ],
    responses={200: CallSerializer(many=True), **BAD_QUERY, **ERRORS},
)
class CallListView(generics.ListAPIView):
    serializer_class = CallSerializer
    permission_classes = [CanViewCalls]
    pagination_class = CallCursorPagination

    def get_queryset(self) -> QuerySet[Call]:
        # The calls page's search, read from the same parameters; the pages are the API's own
        # (``cursor``, ``page_size``), newest first.
        params = {
            name: value
            for name, value in self.request.query_params.items()
            if name not in ("cursor", "page_size", "sort")
        }
        query, errors = CallQuery.from_params(params)
        if errors:
            raise exceptions.ValidationError(errors.by_param)
        return filtered_calls(user=self.request.user, query=query)


@extend_schema(
    summary="One call: parties, stream statistics, analysis, transcripts",
    responses={200: CallDetailSerializer, **ERRORS, **NOT_FOUND},
)
class CallDetailView(generics.RetrieveAPIView):
    serializer_class = CallDetailSerializer
    permission_classes = [CanViewCalls]
    queryset = Call.objects.none()  # for the schema; get_object scopes by user

    def get_object(self) -> Call:
        call = call_detail_for(user=self.request.user, call_id=self.kwargs["pk"])
        if call is None:
            raise exceptions.NotFound("No such call.")
        audit_record(
            event_type=AuditEventType.CALL_VIEWED,
            actor=self.request.user,
            target=call,
            call_id=call.pk,
            data={"via": "api"},
            request=self.request,
        )
        return call


@extend_schema(
    summary="The call's transcript as JSON segments or WebVTT",
    description="The newest finished post-call transcript, else the live one; `transcript` "
    "picks another (ids in the call's `transcripts`). WebVTT with `?format=vtt` or "
    "`Accept: text/vtt`. Each read is recorded in the audit trail.",
    parameters=[
        OpenApiParameter("transcript", OpenApiTypes.INT, description="A transcript id."),
        OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "vtt"]),
    ],
    responses={
        (200, "application/json"): TranscriptSerializer,
        (200, "text/vtt"): OpenApiTypes.STR,
        **BAD_QUERY,
        **ERRORS,
        404: OpenApiResponse(ErrorSerializer, description="No such call, or no transcript yet."),
    },
)
class CallTranscriptView(JsonErrorsMixin, APIView):
    permission_classes = [CanViewCalls]
    renderer_classes = [JSONRenderer, WebVTTRenderer]

    def get(self, request: Request, pk: int) -> Response:
        call = visible_call(request, pk)
        wanted = request.query_params.get("transcript", "")
        if wanted and not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 18):
            raise exceptions.ValidationError({"transcript": ["A transcript id (a whole number)."]})
        transcript = call_transcript(call=call, transcript_id=int(wanted) if wanted else None)
        if transcript is None:
            raise exceptions.NotFound("This call has no transcript yet.")
        as_vtt = request.accepted_renderer.format == WebVTTRenderer.format
        audit_record(
            event_type=AuditEventType.TRANSCRIPT_VIEWED,
            actor=request.user,
            target=transcript,
            call_id=call.pk,
            data={"via": "api", "format": "vtt" if as_vtt else "json"},
            request=request,
        )
        if as_vtt:
            return Response(transcript_webvtt(transcript.segments.all()))
        return Response(TranscriptSerializer(transcript).data)


class IgnoreAccept(BaseContentNegotiation):
    """The recording is WAV whatever the client accepts (players send ``Accept: */*`` or
    ``audio/*``); errors are JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


@extend_schema(
    summary="The call's stereo WAV recording (agent left, caller right), Range-capable",
    description="Serves `Range: bytes=…` (206) for players and resumed downloads. "
    "`download=1` sends it as an attachment and needs the download permission. Each read is "
    "recorded in the audit trail.",
    parameters=[
        OpenApiParameter("download", OpenApiTypes.BOOL, description="As an attachment."),
        OpenApiParameter(
            "Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="bytes=START-END"
        ),
    ],
    responses={
        (200, "audio/wav"): OpenApiTypes.BINARY,
        (206, "audio/wav"): OpenApiTypes.BINARY,
        **ERRORS,
        404: OpenApiResponse(ErrorSerializer, description="No such call, or no recording."),
        416: OpenApiResponse(description="The range is outside the recording."),
    },
)
class CallRecordingView(APIView):
    permission_classes = [CanPlayRecordings]
    content_negotiation_class = IgnoreAccept

    def get(self, request: Request, pk: int) -> Any:
        download = request.query_params.get("download", "") in ("1", "true", "yes")
        if download and not request.user.has_perm("calls.download_recording"):
            raise exceptions.PermissionDenied("Your role may play recordings, not download them.")
        call = visible_call(request, pk)
        path = recording_file(call)
        if path is None:
            raise exceptions.NotFound("This call has no recording.")
        response, answered = ranged_file_response(
            path=path,
            range_header=request.headers.get("Range"),
            content_type="audio/wav",
            filename=f"call-{call.pk}.wav",
            as_attachment=download,
        )
        # One entry per playback or download, as on the call page: a player seeking asks for
        # many ranges, and only the read from the start is a new playback.
        if response.status_code in (200, 206) and (answered is None or answered.start == 0):
            audit_record(
                event_type=(
                    AuditEventType.RECORDING_DOWNLOADED
                    if download
                    else AuditEventType.RECORDING_PLAYED
                ),
                actor=request.user,
                target=call,
                call_id=call.pk,
                data={"via": "api", "range": response.get("Content-Range", "")},
                request=request,
            )
        return response


@extend_schema(
    summary="The audit trail, newest first (auditors and admins)",
    parameters=[
        *PERIOD,
        OpenApiParameter("event_type", OpenApiTypes.STR, enum=AuditEventType.values),
        OpenApiParameter("actor", OpenApiTypes.STR, description="Username, or `system`."),
        OpenApiParameter("call", OpenApiTypes.INT, description="Entries about this call."),
        PAGE_SIZE,
    ],
    responses={200: AuditEventSerializer(many=True), **BAD_QUERY, **ERRORS},
)
class AuditEventListView(generics.ListAPIView):
    serializer_class = AuditEventSerializer
    permission_classes = [CanViewAuditTrail]
    pagination_class = AuditEventCursorPagination

    def get_queryset(self) -> QuerySet[AuditEvent]:
        query = parsed(AuditEventQuery.from_params, self.request.query_params)
        return query.apply(audit_events_visible_to(user=self.request.user))
