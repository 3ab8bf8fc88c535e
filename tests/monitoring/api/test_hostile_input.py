"""Property tests of everything the API parses from outside: the Authorization header, the
Range header, the list filters, and transcript text turned into WebVTT."""

from __future__ import annotations

import re
import secrets
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from monitoring.api._exports import segments_as_vtt, vtt_timestamp
from monitoring.api._range import ByteRange, RangeNotSatisfiable, parse_range
from monitoring.api.authentication import MalformedAuthorization, bearer_token
from monitoring.api.filters import AuditEventQuery, CallListQuery, QueryError

URLSAFE = string.ascii_letters + string.digits + "-_"
headers = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda scheme, gap, body: f"{scheme}{gap}{body}",
        st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", "Bearer\t", ""]),
        st.sampled_from(["", " ", "  ", "\t"]),
        st.text(max_size=200),
    ),
    st.binary(max_size=200),
)


@given(headers)
@example("Bearer " + "a" * 10_000)
@example(b"Bearer \xff\xfe")
@example("Bearer =abc")
def test_the_authorization_header_parses_or_is_refused_cleanly(header):
    try:
        token = bearer_token(header)
    except MalformedAuthorization:
        return
    if token is not None:
        assert re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", token)
        assert len(token) <= 128
        text = header.decode() if isinstance(header, bytes) else header
        assert token in text


@given(
    token=st.text(alphabet=URLSAFE, min_size=1, max_size=120),
    scheme=st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"]),
    before=st.sampled_from(["", " ", "\t "]),
    after=st.sampled_from(["", " ", " \t"]),
)
def test_a_well_formed_bearer_header_gives_its_token_back(token, scheme, before, after):
    assert bearer_token(f"{before}{scheme} {token}{after}") == token


@given(st.text(max_size=100).filter(lambda s: not s.strip(" \t").lower().startswith("bearer")))
def test_other_schemes_are_left_to_other_authentication(header):
    assert bearer_token(header) is None


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=headers.filter(lambda h: isinstance(h, str)))
def test_any_authorization_header_is_a_401_never_an_error(db, header):
    """Through the whole stack: whatever arrives, an anonymous request is a 401 with a code."""
    client = APIClient()
    response = client.get("/api/v1/calls/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] in {
        "not_authenticated",
        "authorization_malformed",
        "token_invalid",
    }


@pytest.mark.django_db
def test_a_real_token_inside_noise_is_not_accepted(api_client_for):
    client = api_client_for("supervisor")
    for noisy in (f"Bearer {client.secret}x", f"Bearer x{client.secret}", f"Basic {client.secret}"):
        response = APIClient().get("/api/v1/calls/", HTTP_AUTHORIZATION=noisy)
        assert response.status_code == 401, noisy


# --- Range ----------------------------------------------------------------------------------------


@given(header=st.one_of(st.none(), st.text(max_size=80)), size=st.integers(0, 10**12))
@example(header="bytes=0-0", size=0)
@example(header="bytes=-0", size=10)
@example(header="bytes=" + "9" * 30 + "-", size=10)
def test_any_range_header_gives_a_range_inside_the_file_or_none(header, size):
    try:
        wanted = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if wanted is not None:
        assert 0 <= wanted.start <= wanted.end < size


@given(
    size=st.integers(1, 10**9),
    data=st.data(),
)
def test_a_satisfiable_range_is_what_was_asked(size, data):
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start, size + 100))
    assert parse_range(f"bytes={start}-{end}", size) == ByteRange(start, min(end, size - 1))
    assert parse_range(f"bytes={start}-", size) == ByteRange(start, size - 1)
    suffix = data.draw(st.integers(1, size + 100))
    assert parse_range(f"bytes=-{suffix}", size) == ByteRange(max(size - suffix, 0), size - 1)
    with pytest.raises(RangeNotSatisfiable):
        parse_range(f"bytes={size + data.draw(st.integers(0, 100))}-", size)


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=-", "0-1"])
def test_ranges_this_does_not_serve_mean_the_whole_file(header):
    assert parse_range(header, 100) is None


# --- list filters ---------------------------------------------------------------------------------

params = st.dictionaries(
    st.sampled_from(
        ["from", "to", "agent", "caller", "dialled", "status", "event_type", "actor", "call", "x"]
    ),
    st.one_of(
        st.text(max_size=70),
        st.dates().map(str),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.from_regex(r"[0-9+]{1,70}", fullmatch=True),
    ),
)


@settings(max_examples=300)
@given(params)
def test_filters_parse_or_name_the_bad_parameter(values):
    for query in (CallListQuery, AuditEventQuery):
        try:
            parsed = query.from_params(values)
        except QueryError as exc:
            errors = exc.errors
            assert errors
            assert set(errors) <= set(values)
        else:
            if parsed.start is not None and parsed.end is not None:
                assert parsed.start < parsed.end
            assert "\x00" not in getattr(parsed, "agent", "") + getattr(parsed, "actor", "")


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=params)
def test_any_filter_is_a_200_or_a_400_through_the_database(api_client_for, values):
    client = api_client_for("admin")
    for url in ("/api/v1/calls/", "/api/v1/audit-events/"):
        assert client.get(url, values).status_code in (200, 400)


# --- WebVTT ---------------------------------------------------------------------------------------


class Segment:
    def __init__(self, speaker: str, start: float, end: float, text: str) -> None:
        self.speaker, self.start, self.end, self.text = speaker, start, end, text


segments = st.lists(
    st.builds(
        Segment,
        st.sampled_from(["agent", "caller", "other"]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(),
    ),
    max_size=8,
)
TIMING = re.compile(r"\d{2,}:\d{2}:\d{2}\.\d{3} --> \d{2,}:\d{2}:\d{2}\.\d{3}")


@given(segments)
def test_any_transcript_is_well_formed_webvtt(items):
    vtt = segments_as_vtt(items)
    if not items:
        assert vtt == "WEBVTT\n"
        return
    assert vtt.startswith("WEBVTT\n\n")
    assert vtt.endswith("\n")
    assert not vtt.endswith("\n\n\n")
    cues = vtt.removeprefix("WEBVTT\n\n").removesuffix("\n").split("\n\n")
    assert len(cues) == len(items)
    for number, cue in enumerate(cues, start=1):
        lines = cue.split("\n")
        assert lines[0] == str(number)
        assert TIMING.fullmatch(lines[1])
        start, end = (_seconds(t) for t in lines[1].split(" --> "))
        assert 0 <= start <= end
        assert len(lines) == 3  # the text is one line: a blank line cannot end a cue early
        assert "-->" not in lines[2]
        assert re.fullmatch(r"<v (Agent|Caller|Unknown)>[^<>]*", lines[2])


def _seconds(timestamp: str) -> float:
    h, m, rest = timestamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(rest)


@given(st.floats(min_value=0, max_value=10**6))
def test_timestamps_round_trip_to_the_millisecond(seconds):
    assert abs(_seconds(vtt_timestamp(seconds)) - seconds) <= 0.0005 + 1e-9


def test_token_alphabet_matches_what_is_issued():
    assert set(secrets.token_urlsafe(32)) <= set(URLSAFE)
