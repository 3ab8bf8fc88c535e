"""The shared retry policy: what it retries, how long it waits, and when it stops."""

from __future__ import annotations

import math

import pytest

from ringadmin.retry import RetryPolicy, call_with_retries, retry_after_of


class Flaky(Exception):
    def __init__(self, retry_after: object = None) -> None:
        super().__init__("flaky")
        self.retry_after = retry_after


POLICY = RetryPolicy(retryable=(Flaky,), max_retries=3, base_seconds=1.0, max_seconds=3.0)


def test_call_with_retries_retries_only_what_is_retryable_and_stops() -> None:
    calls: list[int] = []
    waits: list[float] = []
    seen: list[tuple[int, float]] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky(retry_after=2.5)
        return "done"

    result = call_with_retries(
        attempt,
        policy=POLICY,
        on_retry=lambda exc, n, delay: seen.append((n, delay)),
        sleep=waits.append,
    )
    assert result == "done"
    assert [n for n, _ in seen] == [1, 2]
    assert waits == [delay for _, delay in seen]
    assert all(wait >= 2.5 for wait in waits)

    def always() -> None:
        raise Flaky

    waits.clear()
    with pytest.raises(Flaky):
        call_with_retries(always, policy=POLICY, sleep=waits.append)
    assert len(waits) == 3  # max_retries
    assert 0.5 <= waits[0] <= 1
    assert 1.5 <= waits[2] <= 3  # capped at max_seconds

    def broken() -> None:
        raise ValueError("not retryable")

    waits.clear()
    with pytest.raises(ValueError, match="not retryable"):
        call_with_retries(broken, policy=POLICY, sleep=waits.append)
    assert waits == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, 7.0), (2.5, 2.5), (-3, 0.0), (None, None), (True, None), ("60", None), (math.nan, None)],
)
def test_only_a_finite_number_counts_as_retry_after(value: object, expected: float | None) -> None:
    assert retry_after_of(Flaky(retry_after=value)) == expected
    delay = POLICY.next_delay(Flaky(retry_after=value), retries=0)
    assert delay is not None
    assert delay >= (expected or 0)
    assert math.isfinite(delay)
