"""The agent iFrame (/client) and what it polls (/client/lines): keyed per profile, framed by
RingCX only, text escaped, wrong keys refused, counted and rate limited per address."""

from __future__ import annotations

import hmac
import logging
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringadmin.calls.models import CallStatus
from ringadmin.compliance.models import AuditEvent, AuditEventType
from streaming.profiles import embed as agent_embed
from streaming.profiles.embed import embed_key_rotate, embed_profile_for_key
from streaming.transcription.services import live_transcript_append_many
from tests.factories import CallFactory, make_streaming_profile

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('x')</script> & <b>bold</b>"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # wrong-key counters of other tests
    yield
    cache.clear()


@pytest.fixture
def profile():
    return make_streaming_profile()


def _call(ringcx_call_id: str = "UII-1", **fields):
    values = {
        "ringcx_call_id": ringcx_call_id,
        "status": CallStatus.LIVE,
        "product_type": "Queue",
        "product_id": "1234",
        "subaccount_id": "99990001",
        **fields,
    }
    return CallFactory(**values)


def _lines(call, *texts: str) -> None:
    live_transcript_append_many(
        lines_by_call={
            call.pk: [
                {"speaker": "agent" if i % 2 == 0 else "caller", "text": text, "seq": i + 1}
                | {"start": float(i), "end": i + 0.9}
                for i, text in enumerate(texts)
            ]
        }
    )


def _client_url(key: str, call_id: str = "UII-1") -> str:
    return f"/client?callId={call_id}&key={key}"


def test_the_right_key_shows_the_transcript_framed_by_ringcx_only(client, profile) -> None:
    call = _call()
    _lines(call, "Hello, thanks for calling.", HOSTILE)
    response = client.get(_client_url(profile.embed_key))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors https://ringcx.ringcentral.com https://*.ringcentral.com" in policy
    assert "X-Frame-Options" not in response  # exempted: framed by the CSP's ancestors only
    page = response.content.decode()
    assert "Hello, thanks for calling." in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert" not in page
    assert "<b>bold" not in page
    assert "Live transcript of call UII-1" in page
    assert response["Cache-Control"] == "no-store"


def test_other_pages_keep_refusing_frames(client) -> None:
    assert client.get("/login/")["X-Frame-Options"] == "DENY"


def test_the_frame_ancestors_come_from_the_setting(client, profile, settings) -> None:
    settings.AGENT_EMBED_FRAME_ANCESTORS = ["https://agent.example.com"]
    _call()
    response = client.get(_client_url(profile.embed_key))
    assert response["Content-Security-Policy"].endswith("frame-ancestors https://agent.example.com")


@pytest.mark.parametrize("key", ["", "wrong", "x" * 43, "y" * 5000])
def test_a_wrong_or_missing_key_is_refused_with_a_clear_message(client, profile, key) -> None:
    _call()
    response = client.get(_client_url(key))
    assert response.status_code == 403
    assert "key is not valid" in response.content.decode()
    assert "frame-ancestors" in response["Content-Security-Policy"]  # shown inside RingCX too
    assert "X-Frame-Options" not in response


def test_a_refused_key_is_one_counted_log_line(client, profile, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="monitoring.agent_embed"):
        client.get(_client_url("guess-abc123"), REMOTE_ADDR="203.0.113.9")
        client.get(_client_url("guess-abc123"), REMOTE_ADDR="203.0.113.9")
    lines = [r.getMessage() for r in caplog.records if r.name == "monitoring.agent_embed"]
    assert len(lines) == 2
    assert "203.0.113.9 (1 of 20" in lines[0]
    assert "203.0.113.9 (2 of 20" in lines[1]
    assert not any("guess-abc123" in line for line in lines)  # never the presented key


def test_wrong_keys_are_rate_limited_per_address(client, profile, settings) -> None:
    settings.AGENT_EMBED_MAX_WRONG_KEYS = 3
    _call()
    for _ in range(3):
        assert client.get(_client_url("guess"), REMOTE_ADDR="198.51.100.7").status_code == 403
    # From then on nothing from that address is checked, the right key included...
    limited = client.get(_client_url(profile.embed_key), REMOTE_ADDR="198.51.100.7")
    assert limited.status_code == 429
    assert "Too many wrong keys" in limited.content.decode()
    polled = client.get(
        f"/client/lines?callId=UII-1&key={profile.embed_key}", REMOTE_ADDR="198.51.100.7"
    )
    assert polled.status_code == 429
    # ...while other addresses go on as before.
    assert client.get(_client_url(profile.embed_key), REMOTE_ADDR="198.51.100.8").status_code == 200


def test_keys_are_compared_in_constant_time_against_every_profile(profile) -> None:
    other = make_streaming_profile(product_id=5678)
    with mock.patch.object(
        agent_embed.hmac, "compare_digest", wraps=hmac.compare_digest
    ) as compare:
        assert embed_profile_for_key(presented=profile.embed_key) == profile
    compared = {call.args[1] for call in compare.call_args_list}
    assert compared == {profile.embed_key.encode(), other.embed_key.encode()}  # no early exit


def test_an_unknown_call_says_so_and_an_ended_one_too(client, profile) -> None:
    unknown = client.get(_client_url(profile.embed_key, "NOT-YET"))
    assert unknown.status_code == 200
    assert "is not streaming to ringadmin (yet)" in unknown.content.decode()
    _call("UII-9", status=CallStatus.COMPLETED, ended_at=timezone.now())
    ended = client.get(_client_url(profile.embed_key, "UII-9"))
    assert "Call UII-9 has ended." in ended.content.decode()


def test_a_key_opens_only_its_own_profiles_calls(client, profile) -> None:
    other = make_streaming_profile(product_id=5678)
    call = _call("UII-2", product_id="5678")
    _lines(call, "other queue's words")
    page = client.get(_client_url(profile.embed_key, "UII-2")).content.decode()
    assert "other queue" not in page
    assert "is not streaming" in page
    assert "other queue" in client.get(_client_url(other.embed_key, "UII-2")).content.decode()


def test_the_live_call_is_preferred_to_an_older_session(client, profile) -> None:
    _call("UII-3", session_id="1", status=CallStatus.COMPLETED)
    live = _call("UII-3", session_id="2")
    _lines(live, "the live session")
    assert (
        "the live session" in client.get(_client_url(profile.embed_key, "UII-3")).content.decode()
    )


def test_a_bad_call_id_is_a_clear_400(client, profile) -> None:
    for call_id in ["", "x" * 65, "a%00b"]:
        response = client.get(_client_url(profile.embed_key, call_id))
        assert response.status_code == 400
        assert "callId={{model.call.uii}}" in response.content.decode()


def test_polling_returns_only_new_lines_and_the_state(client, profile) -> None:
    call = _call()
    _lines(call, "one", "two")
    url = f"/client/lines?callId=UII-1&key={profile.embed_key}"
    first = client.get(f"{url}&after=0").json()
    assert [line["text"] for line in first["lines"]] == ["one", "two"]
    assert first["state"] == "live"
    again = client.get(f"{url}&after={first['after']}").json()
    assert again == {"state": "live", "lines": [], "after": first["after"]}
    call.status = CallStatus.COMPLETED
    call.save()
    assert client.get(f"{url}&after={first['after']}").json()["state"] == "ended"


def test_polling_with_a_wrong_key_is_refused(client, profile) -> None:
    _call()
    response = client.get("/client/lines?callId=UII-1&key=nope&after=0")
    assert response.status_code == 403
    assert "key is not valid" in response.json()["error"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(after=st.text(max_size=20), call_id=st.text(max_size=80))
def test_any_query_gets_an_answer_never_an_error(client, profile, after, call_id) -> None:
    response = client.get(
        "/client/lines", {"callId": call_id, "key": profile.embed_key, "after": after}
    )
    assert response.status_code in (200, 400)
    body = response.json()
    if response.status_code == 200:
        assert body["state"] in ("live", "ended", "unknown")
        assert isinstance(body["after"], int)
    else:
        assert body["error"]


def test_rotation_closes_old_urls_and_is_audited(client, profile, make_user) -> None:
    _call()
    old_key = profile.embed_key
    admin = make_user("admin")
    rotated = embed_key_rotate(profile=profile, actor=admin)
    assert rotated.embed_key != old_key
    assert len(rotated.embed_key) >= 43
    assert client.get(_client_url(old_key)).status_code == 403
    assert client.get(_client_url(rotated.embed_key)).status_code == 200
    (event,) = AuditEvent.objects.filter(event_type=AuditEventType.PROFILE_CHANGED)
    assert event.actor_id == admin.pk
    assert event.data["changed"] == ["embed_key"]
    assert old_key not in str(event.data)
    assert rotated.embed_key not in str(event.data)


def test_every_profile_gets_its_own_key(profile) -> None:
    other = make_streaming_profile(product_id=5678)
    assert len(profile.embed_key) >= 43
    assert profile.embed_key != other.embed_key


def test_the_frame_ancestors_setting_accepts_origins_and_refuses_the_rest() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from ringadmin.settings.security import frame_ancestors_parse

    assert frame_ancestors_parse("https://a.example.com, https://*.b.example:8443 'self'") == [
        "https://a.example.com",
        "https://*.b.example:8443",
        "'self'",
    ]
    for bad in ["", "https://a.example; script-src *", "*", "javascript:x", "'unsafe-inline'"]:
        with pytest.raises(ImproperlyConfigured):
            frame_ancestors_parse(bad)


@given(value=st.text(max_size=60))
def test_no_setting_value_can_add_a_policy_directive(value) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from ringadmin.settings.security import frame_ancestors_parse

    try:
        sources = frame_ancestors_parse(value)
    except ImproperlyConfigured:
        return
    header = "frame-ancestors " + " ".join(sources)
    assert ";" not in header
    assert "\n" not in header
    assert "\r" not in header
    assert all(s in ("'self'", "'none'") or s.startswith(("https://", "http://")) for s in sources)
