"""The call lifecycle across the core and streaming: the core closes a call and announces it;
streaming queues the post-call work in that transaction; the ingest hands the core the product
of the profile that authenticated the stream."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.services import CallProduct, CallRefused, call_belongs_to, call_finalize
from streaming.ingest.calls import ingest_call_reject, ingest_call_start
from streaming.profiles.selectors import streaming_profile_call_product
from tests.factories import CallFactory, make_streaming_profile

pytestmark = pytest.mark.django_db

QUEUE_1234 = CallProduct(
    product_type="QUEUE",
    product_type_label="Queue",
    product_id=1234,
    sub_account_id="99990001",
    main_account_id="99990000",
    rc_account_id="123456789",
)


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The calls whose fingerprint was sent to the broker."""
    sent: list[int] = []
    monkeypatch.setattr("streaming.tasks.call_postprocess.delay", sent.append)
    return sent


def finalize(call: Call) -> Call:
    return call_finalize(
        call_id=call.pk,
        status=CallStatus.COMPLETED,
        ended_at=timezone.now(),
        duration_seconds=3.0,
        stream_stats={},
        end_reason="every perspective stopped",
    )


def test_a_finalized_call_has_its_recording_fingerprinted_once_the_close_commits(
    queued, django_capture_on_commit_callbacks
) -> None:
    call = CallFactory(status=CallStatus.LIVE, recording_path="/nonexistent.wav")
    with django_capture_on_commit_callbacks(execute=True):
        finalize(call)
        assert queued == []  # not before the commit
    assert queued == [call.pk]


def test_a_rolled_back_close_queues_no_post_call_work(
    queued, django_capture_on_commit_callbacks
) -> None:
    call = CallFactory(status=CallStatus.LIVE, recording_path="/nonexistent.wav")

    def close_then_fail() -> None:
        with transaction.atomic():
            finalize(call)
            raise RuntimeError("the surrounding work failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        close_then_fail()
    assert callbacks == []
    assert queued == []
    call.refresh_from_db()
    assert call.status == CallStatus.LIVE


def test_the_profile_hands_its_product_to_the_core() -> None:
    profile = make_streaming_profile()
    assert streaming_profile_call_product(profile_id=profile.pk) == QUEUE_1234
    assert streaming_profile_call_product(profile_id=profile.pk + 1000) is None


@pytest.mark.parametrize(
    ("row", "belongs"),
    [
        ({}, True),
        ({"product_type": " queue "}, True),  # the row holds a label, read loosely
        ({"subaccount_id": ""}, True),  # a row without a sub-account: the product decides
        ({"product_type": "Campaign"}, False),
        ({"product_type": ""}, False),
        ({"product_id": "4321"}, False),
        ({"subaccount_id": "99990002"}, False),
    ],
)
def test_a_call_belongs_to_the_product_that_opened_it(row, belongs) -> None:
    assert call_belongs_to(call=CallFactory.build(**row), product=QUEUE_1234) is belongs


def test_a_stream_of_a_deleted_profile_writes_no_call() -> None:
    profile = make_streaming_profile()
    profile_id = profile.pk
    profile.delete()
    call = {"ringcx_call_id": "c1", "session_id": "1", "metadata": {}, "handshake": {}}
    with pytest.raises(CallRefused, match="no longer exists"):
        ingest_call_start(**call, profile_id=profile_id, owner="test", recording_path="/r/c1.wav")
    assert ingest_call_reject(**call, profile_id=profile_id, reason="unsupported audio") is None
    assert not Call.objects.exists()


def test_the_ingest_records_the_call_with_its_profiles_product() -> None:
    profile = make_streaming_profile()
    result = ingest_call_start(
        ringcx_call_id="c1",
        session_id="1",
        profile_id=profile.pk,
        metadata={"productType": "CAMPAIGN", "productId": "999"},  # never trusted
        handshake={},
        owner="test",
        recording_path="/r/c1.wav",
    )
    call = Call.objects.get(pk=result.call.pk)
    assert (call.product_type, call.product_id, call.subaccount_id) == ("Queue", "1234", "99990001")
    assert (call.account_id, call.rc_account_id) == ("99990000", "123456789")
