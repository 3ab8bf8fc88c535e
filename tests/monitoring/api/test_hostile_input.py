"""Property tests of what the API parses from outside: the Authorization header and the list
filters (the Range header and WebVTT are the call page's, tested with them)."""

from __future__ import annotations

import re
import secrets
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from monitoring.api.authentication import MalformedAuthorization, bearer_token
from monitoring.api.filters import AuditEventQuery, QueryError

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
    for query in (AuditEventQuery,):
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


def test_token_alphabet_matches_what_is_issued():
    assert set(secrets.token_urlsafe(32)) <= set(URLSAFE)
