from __future__ import annotations

import factory
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    ringcx_call_id = factory.Sequence(lambda n: f"call-{n}")
    session_id = "1"
    ani = "2223334444"
    dnis = "8005550100"
    account_id = "99990000"
    subaccount_id = "99990001"
    rc_account_id = "123456789"
    agent_id = "123"
    product_type = "Queue"
    product_id = "1234"
    status = CallStatus.COMPLETED
    started_at = factory.LazyFunction(timezone.now)


def make_streaming_profile(**overrides):
    """A valid Queue 1234 profile, created through the real service (so audited and synced)."""
    from streaming.profiles.services import streaming_profile_create

    values = {
        "product_type": "QUEUE",
        "product_id": 1234,
        "sub_account_id": "99990001",
        "main_account_id": "99990000",
        "rc_account_id": "123456789",
        "streaming_url": "wss://rec.example.com",
    }
    return streaming_profile_create(**{**values, **overrides})
