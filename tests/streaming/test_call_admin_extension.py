"""Streaming adds its transcripts to the core's call admin without replacing it."""

from __future__ import annotations

import html

import pytest
from django.contrib import admin
from django.urls import reverse

from ringadmin.calls.admin import CallAdmin
from ringadmin.calls.models import Call
from streaming.models import Transcript, TranscriptKind, TranscriptStatus
from streaming.transcription.admin import TranscriptInline
from tests.factories import CallFactory
from tests.streaming.stream_stats_sample import stream_stats

pytestmark = pytest.mark.django_db


def test_the_core_call_admin_is_the_one_registered() -> None:
    assert type(admin.site._registry[Call]) is CallAdmin


def test_the_call_page_shows_the_stream_and_the_transcripts(client, make_user) -> None:
    call = CallFactory(stream_stats=stream_stats(), recording_path="2026/11/21/call-1.wav")
    Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="whisper",
        model="tiny.en-int8",
        status=TranscriptStatus.FAILED,
        error="the model file is damaged",
    )
    client.force_login(make_user("admin"))
    response = client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    # the core's sections
    assert f'<a href="/calls/{call.pk}/recording.wav">Recording</a>' in page
    assert '<table class="stream-perspectives">' in page
    assert "<th>sequence numbering</th><td>per_perspective</td>" in page
    # streaming's inline
    inline = next(i for i in response.context["inline_admin_formsets"])
    assert isinstance(inline.opts, TranscriptInline)
    assert "tiny.en-int8" in page
    assert "the model file is damaged" in page
    assert 'name="_save"' not in page


def test_re_transcribe_is_offered_to_admins_only(client, make_user) -> None:
    CallFactory()
    url = reverse("admin:calls_call_changelist")
    client.force_login(make_user("admin"))
    assert 'value="retranscribe"' in client.get(url).content.decode()
    # staff who may view calls but not add transcripts: the list without the action
    viewer = make_user("supervisor")
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    listing = client.get(url)
    assert listing.status_code == 200
    assert 'value="retranscribe"' not in listing.content.decode()
