"""Handshake parsing: tolerant parameter names and every place a secret may come from."""

from __future__ import annotations

import pytest

from streaming.ingest.handshake import handshake_parse


def scope(query: str = "", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {
        "type": "websocket",
        "path": "/",
        "query_string": query.encode(),
        "headers": headers or [],
        "client": ("10.0.0.7", 4242),
    }


def test_documented_names_are_read_and_everything_is_kept() -> None:
    parsed = handshake_parse(
        scope(
            "callId=12345&sessionId=2&ani=2223334444&dnis=8005550100&accountId=99990000"
            "&subaccountId=99990001&rcAccountId=123456789&agentId=123&productType=Queue"
            "&productId=1234&somethingNew=x"
        )
    )
    assert parsed.params == {
        "callId": "12345",
        "sessionId": "2",
        "ani": "2223334444",
        "dnis": "8005550100",
        "accountId": "99990000",
        "subaccountId": "99990001",
        "rcAccountId": "123456789",
        "agentId": "123",
        "productType": "Queue",
        "productId": "1234",
    }
    assert parsed.raw_params["somethingNew"] == "x"
    assert parsed.client == "10.0.0.7:4242"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "CALLID=1&Session_Id=2&product_type=CAMPAIGN&PRODUCT-ID=7",
            {"callId": "1", "sessionId": "2", "productType": "CAMPAIGN", "productId": "7"},
        ),
        ("call_id=9&queueId=55", {"callId": "9", "productId": "55", "productType": "Queue"}),
        ("campaign_id=8", {"productId": "8", "productType": "Campaign"}),
        (
            "from=555&to=666&sub_account_id=3&rc_account_id=4",
            {"ani": "555", "dnis": "666", "subaccountId": "3", "rcAccountId": "4"},
        ),
    ],
)
def test_variants_of_names_are_accepted(query: str, expected: dict) -> None:
    assert handshake_parse(scope(query)).params == expected


@pytest.mark.parametrize(
    ("query", "headers", "source"),
    [
        ("", [(b"authorization", b"Bearer s3cret")], "header:authorization"),
        ("", [(b"Authorization", b"s3cret")], "header:authorization"),
        ("", [(b"x-ringcx-secret", b"s3cret")], "header:x-ringcx-secret"),
        ("", [(b"x-streaming-secret", b"s3cret")], "header:x-streaming-secret"),
        ("secret=s3cret", [], "query:secret"),
        ("token=s3cret", [], "query:token"),
    ],
)
def test_secret_is_found_wherever_it_is_sent(query: str, headers: list, source: str) -> None:
    parsed = handshake_parse(scope(query, headers))
    assert parsed.secret == "s3cret"
    assert parsed.secret_source == source


def test_secret_never_appears_in_what_is_stored() -> None:
    parsed = handshake_parse(
        scope("callId=1&secret=s3cret&token=t0ken", [(b"authorization", b"Bearer b3arer")])
    )
    record = parsed.as_record()
    assert "s3cret" not in str(record)
    assert "t0ken" not in str(record)
    assert "b3arer" not in str(record)
    assert "authorization" in record["header_names"]
