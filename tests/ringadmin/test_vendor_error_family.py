"""One error family and one retry policy for every vendor: RingCentral, RingCX and the speech
engines (Google, Deepgram, OpenAI, Whisper). Each vendor's failures are classified the same
way: rate limits and outages are retried, never sooner than the vendor asked; the rest is not.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringadmin.retry import MAX_RETRY_AFTER_SECONDS, parse_retry_after
from ringadmin.vendors import http
from ringadmin.vendors.errors import (
    RETRYABLE,
    AuthFailed,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
    VendorError,
    vendor_retry_policy,
)
from streaming.transcription.engines import base, deepgram, google, hosted, openai
from streaming.transcription.engines.whisper import WhisperConfig, resolve_model

POLICY = vendor_retry_policy(max_retries=3)


def response(
    status: int, *, headers=None, json=None, url="https://vendor.example/api"
) -> httpx.Response:
    return httpx.Response(
        status, headers=headers or {}, json=json, request=httpx.Request("POST", url)
    )


def assert_policy(exc: VendorError, *, retryable: bool, at_least: float = 0.0) -> None:
    """The one policy retries exactly the retryable failures, never sooner than asked."""
    assert isinstance(exc, VendorError)
    assert exc.retryable is retryable
    assert isinstance(exc, RETRYABLE) is retryable
    delay = POLICY.next_delay(exc, retries=0)
    if not retryable:
        assert delay is None
        return
    assert delay is not None
    assert delay >= at_least
    assert POLICY.next_delay(exc, retries=3) is None  # then it is shown


@pytest.mark.parametrize("vendor", ["ringcentral", "ringcx"])
@pytest.mark.parametrize(
    ("status", "headers", "kind", "retryable", "retry_after"),
    [
        (429, {"Retry-After": "12"}, RateLimited, True, 12.0),
        (429, {}, RateLimited, True, 30.0),  # RingCentral: 30 s when it does not say
        (503, {"Retry-After": "45"}, Unavailable, True, 45.0),
        (500, {}, Unavailable, True, None),
        (408, {}, Unavailable, True, None),
        (401, {}, AuthFailed, False, None),
        (404, {}, NotFound, False, None),
        (400, {}, Rejected, False, None),
    ],
)
def test_telephony_vendor_failures(vendor, status, headers, kind, retryable, retry_after) -> None:
    body = {"errorCode": "CMN-101", "message": "went wrong"}
    exc = http.error_from_response(response(status, headers=headers, json=body), vendor=vendor)
    assert type(exc) is kind
    assert exc.vendor == vendor
    assert exc.status == status
    assert getattr(exc, "retry_after", None) == retry_after
    assert_policy(exc, retryable=retryable, at_least=retry_after or 0.0)


SPEECH_PARSERS = {
    "Google Speech-to-Text": google._google_error,
    "Deepgram": deepgram._deepgram_error,
    "OpenAI": openai._openai_error,
}
SPEECH_BODIES = {
    "Google Speech-to-Text": {"error": {"code": 3, "message": "went wrong", "status": "X"}},
    "Deepgram": {"err_code": "X", "err_msg": "went wrong"},
    "OpenAI": {"error": {"message": "went wrong", "code": "X"}},
}


@pytest.mark.parametrize("vendor", sorted(SPEECH_PARSERS))
@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (429, {"Retry-After": "12"}, True, 12.0),
        (503, {"Retry-After": "45"}, True, 45.0),
        (500, {}, True, None),
        (408, {}, True, None),
        (401, {}, False, None),
        (400, {}, False, None),
    ],
)
def test_speech_engine_failures(vendor, status, headers, retryable, retry_after) -> None:
    answer = response(status, headers=headers, json=SPEECH_BODIES[vendor])
    exc = hosted.error_for(answer, vendor=vendor, parse=SPEECH_PARSERS[vendor])
    assert isinstance(exc, base.TranscriptionError)
    assert isinstance(exc, base.EngineUnavailable) is retryable
    assert isinstance(exc, Unavailable) is retryable
    assert (exc.vendor, exc.status) == (vendor, status)
    assert "went wrong" in str(exc)
    if retryable:
        assert exc.retry_after == retry_after
    assert_policy(exc, retryable=retryable, at_least=retry_after or 0.0)


@pytest.mark.parametrize("vendor", sorted(SPEECH_PARSERS))
@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["connect", "timeout"],
)
def test_speech_engine_network_failures_are_temporary(vendor, failure) -> None:
    with pytest.raises(base.EngineUnavailable) as caught, hosted.transport_errors(vendor):
        raise failure
    assert caught.value.vendor == vendor
    assert_policy(caught.value, retryable=True)


def test_a_local_engine_that_is_not_configured_is_final(tmp_path) -> None:
    with pytest.raises(base.EngineNotConfigured) as caught:
        resolve_model(WhisperConfig(model=str(tmp_path / "missing")))
    assert_policy(caught.value, retryable=False)


def test_the_engine_names_are_the_family_s_classes() -> None:
    from ringadmin.vendors import errors

    assert base.TranscriptionError is errors.TranscriptionError
    assert base.EngineUnavailable is errors.EngineUnavailable
    assert base.EngineNotConfigured is errors.EngineNotConfigured


NOW = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("12", 12.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("1e300", MAX_RETRY_AFTER_SECONDS),
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
    ],
)
def test_the_one_retry_after_parser(header, expected) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@given(st.one_of(st.none(), st.text(max_size=60), st.from_regex(r"\A-?\d{1,400}(\.\d*)?\Z")))
def test_retry_after_is_absent_or_a_bounded_wait_whatever_the_header(header) -> None:
    """A vendor's header is hostile input: it never yields a negative, infinite or endless
    wait (a task's countdown of 1e300 s overflows), nor raises."""
    seconds = parse_retry_after(header)
    assert seconds is None or (math.isfinite(seconds) and 0 <= seconds <= MAX_RETRY_AFTER_SECONDS)


@pytest.mark.parametrize("header", ["1e300", "inf", "99999999999"])
def test_an_absurd_retry_after_never_makes_an_endless_wait(header) -> None:
    """The telephony clients' 429 and the policy's delay stay bounded."""
    exc = http.error_from_response(response(429, headers={"Retry-After": header}), vendor="ringcx")
    assert 0 <= exc.retry_after <= MAX_RETRY_AFTER_SECONDS
    assert POLICY.next_delay(exc, retries=0) <= max(MAX_RETRY_AFTER_SECONDS, POLICY.max_seconds)
    huge = RateLimited("slow down", vendor="ringcx", retry_after=1e300)
    assert POLICY.next_delay(huge, retries=0) <= MAX_RETRY_AFTER_SECONDS
