"""``manage.py streaming_profile …`` and ``manage.py calls …``: every path and every error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.models import AuditEvent, AuditEventType
from streaming.management.commands.streaming_profile import Command as ProfileCommand
from streaming.management.subcommands import arg, subcommand
from streaming.models import StreamingProfile
from streaming.profiles.selectors import streaming_secret_matches
from streaming.profiles.services import streaming_profile_create
from tests.factories import CallFactory
from tests.streaming.stream_stats_sample import stream_stats

pytestmark = pytest.mark.django_db

ADD = (
    "add",
    "--product-type",
    "QUEUE",
    "--product-id",
    "1234",
    "--sub-account",
    "99990001",
    "--main-account",
    "99990000",
    "--rc-account",
    "123456789",
    "--url",
    "wss://rec.example.com",
)
PROFILE_KEYS = {
    "id",
    "product_type",
    "product_id",
    "sub_account_id",
    "main_account_id",
    "rc_account_id",
    "streaming_url",
    "enabled",
    "has_secret",
    "secret_masked",
    "secret_rotated_at",
    "retention_days",
    "notes",
    "created_at",
    "updated_at",
}
CALL_KEYS = {
    "id",
    "ringcx_call_id",
    "session_id",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "ani",
    "dnis",
    "agent_id",
    "account_id",
    "subaccount_id",
    "rc_account_id",
    "product_type",
    "product_id",
    "end_reason",
    "recording_path",
    "stream_stats",
    "transcripts",
}


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def run_json(command: str, *args: str) -> Any:
    return json.loads(run(command, *args, "--json"))


def with_option(args: tuple[str, ...], option: str, value: str) -> tuple[str, ...]:
    """``ADD`` with one option's value replaced: failure tests differ from success in one place."""
    index = args.index(option)
    return (*args[: index + 1], value, *args[index + 2 :])


def make_profile(**overrides: Any) -> StreamingProfile:
    values = {
        "product_type": "QUEUE",
        "product_id": 1234,
        "sub_account_id": "99990001",
        "main_account_id": "99990000",
        "rc_account_id": "123456789",
        "streaming_url": "wss://rec.example.com",
    }
    return streaming_profile_create(**{**values, **overrides})


# --- streaming_profile add ----------------------------------------------------------------------


def test_add_prints_the_id_and_the_generated_secret_once() -> None:
    output = run("streaming_profile", *ADD)
    profile = StreamingProfile.objects.get()
    assert (
        f"Created streaming profile {profile.pk}, enabled: Queue 1234 (sub-account 99990001)."
        in output
    )
    assert output.count(profile.secret) == 1
    assert "it will not be shown again" in output
    assert profile.enabled
    assert profile.retention_days == 365
    assert AuditEvent.objects.filter(event_type=AuditEventType.PROFILE_CREATED).count() == 1


def test_add_json_has_the_documented_keys_and_the_secret() -> None:
    result = run_json("streaming_profile", *ADD, "--notes", "front desk", "--retention-days", "30")
    profile = StreamingProfile.objects.get()
    assert set(result) == PROFILE_KEYS | {"secret"}
    assert result["id"] == profile.pk
    assert result["secret"] == profile.secret
    assert result["secret_masked"] == profile.masked_secret
    assert (result["retention_days"], result["notes"]) == (30, "front desk")
    assert result["created_at"].endswith("+00:00")


def test_add_accepts_the_product_type_in_any_case() -> None:
    run("streaming_profile", *with_option(ADD, "--product-type", "campaign"))
    assert StreamingProfile.objects.get().product_type == "CAMPAIGN"


def test_add_with_a_secret_from_the_environment_does_not_echo_it(monkeypatch) -> None:
    monkeypatch.setenv("RINGCX_PROFILE_SECRET", "s3cret-from-the-vault-0123456789")
    output = run("streaming_profile", *ADD, "--secret-from-env", "RINGCX_PROFILE_SECRET")
    profile = StreamingProfile.objects.get()
    assert profile.secret == "s3cret-from-the-vault-0123456789"
    assert profile.secret not in output
    assert "taken from RINGCX_PROFILE_SECRET (••••6789)" in output


def test_add_json_with_a_secret_from_the_environment_has_no_secret(monkeypatch) -> None:
    monkeypatch.setenv("RINGCX_PROFILE_SECRET", "s3cret-from-the-vault-0123456789")
    result = run_json("streaming_profile", *ADD, "--secret-from-env", "RINGCX_PROFILE_SECRET")
    assert result["secret"] is None
    assert result["has_secret"] is True


def test_add_refuses_an_empty_secret_variable(monkeypatch) -> None:
    monkeypatch.delenv("RINGCX_PROFILE_SECRET", raising=False)
    with pytest.raises(CommandError, match="RINGCX_PROFILE_SECRET is empty or not set"):
        run("streaming_profile", *ADD, "--secret-from-env", "RINGCX_PROFILE_SECRET")
    assert not StreamingProfile.objects.exists()


def test_add_refuses_a_secret_longer_than_the_field(monkeypatch) -> None:
    monkeypatch.setenv("RINGCX_PROFILE_SECRET", "x" * 201)
    with pytest.raises(CommandError, match="--secret-from-env: Ensure this value has at most 200"):
        run("streaming_profile", *ADD, "--secret-from-env", "RINGCX_PROFILE_SECRET")


def test_add_without_secret_warns() -> None:
    output = run("streaming_profile", *ADD, "--no-secret", "--disabled")
    profile = StreamingProfile.objects.get()
    assert (profile.secret, profile.enabled) == ("", False)
    assert "No secret" in output
    assert f"Created streaming profile {profile.pk}, disabled:" in output


def test_add_refuses_no_secret_with_a_secret_variable(monkeypatch) -> None:
    monkeypatch.setenv("RINGCX_PROFILE_SECRET", "s3cret-from-the-vault-0123456789")
    with pytest.raises(CommandError, match="exclude each other"):
        run("streaming_profile", *ADD, "--no-secret", "--secret-from-env", "RINGCX_PROFILE_SECRET")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://rec.example.com", "--url: The streaming URL must start with wss://"),
        ("wss://rec.example.com/ingest", "--url: RingCX accepts only wss://host\\[:port\\]"),
        ("wss://rec.example.com:0", "--url: The port must be between 1 and 65535"),
    ],
)
def test_add_refuses_a_bad_url_with_the_validation_message(url: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("streaming_profile", *with_option(ADD, "--url", url))
    assert not StreamingProfile.objects.exists()


def test_add_refuses_a_duplicate_product() -> None:
    run("streaming_profile", *ADD)
    with pytest.raises(CommandError, match="already exists"):
        run("streaming_profile", *with_option(ADD, "--url", "wss://other.example"))
    assert StreamingProfile.objects.count() == 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--product-type", "gate", "unknown product type 'gate': choose QUEUE or CAMPAIGN"),
        ("--product-id", "twelve", "'twelve' is not a whole number"),
        ("--product-id", "0", "'0' must be 1 or more"),
    ],
)
def test_add_refuses_bad_arguments_clearly(option: str, value: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("streaming_profile", *with_option(ADD, option, value))
    assert not StreamingProfile.objects.exists()


def test_add_names_a_missing_option() -> None:
    without_url = ADD[:-2]
    with pytest.raises(CommandError, match="the following arguments are required: --url"):
        run("streaming_profile", *without_url)


def test_a_subcommand_is_required() -> None:
    with pytest.raises(CommandError, match="required: SUBCOMMAND"):
        run("streaming_profile")
    with pytest.raises(CommandError, match="invalid choice: 'remove'"):
        run("streaming_profile", "remove", "1")


# --- streaming_profile list / rotate-secret / disable --------------------------------------------


def test_list_masks_secrets() -> None:
    queue = make_profile()
    campaign = make_profile(product_type="CAMPAIGN", product_id=77, enabled=False)
    output = run("streaming_profile", "list")
    assert queue.secret not in output
    assert campaign.secret not in output
    assert queue.masked_secret in output
    lines = output.splitlines()
    assert lines[0].split()[:4] == ["ID", "TYPE", "PRODUCT", "SUB-ACCOUNT"]
    assert [line.split()[1] for line in lines[1:]] == ["CAMPAIGN", "QUEUE"]


def test_list_json_has_the_documented_keys() -> None:
    profile = make_profile()
    [listed] = run_json("streaming_profile", "list")
    assert set(listed) == PROFILE_KEYS
    assert listed["secret_masked"] == profile.masked_secret
    assert profile.secret not in json.dumps(listed)


def test_list_without_profiles() -> None:
    assert run("streaming_profile", "list") == "No streaming profiles.\n"
    assert run_json("streaming_profile", "list") == []


def test_rotate_secret_prints_the_new_secret_once_and_keeps_the_old_valid() -> None:
    profile = make_profile()
    old = profile.secret
    output = run("streaming_profile", "rotate-secret", str(profile.pk))
    profile.refresh_from_db()
    assert profile.secret != old
    assert output.count(profile.secret) == 1
    assert old not in output
    assert "previous secret keeps working until" in output
    assert streaming_secret_matches(profile=profile, presented=old)
    assert AuditEvent.objects.filter(event_type=AuditEventType.PROFILE_SECRET_ROTATED).exists()


def test_rotate_secret_json() -> None:
    profile = make_profile()
    result = run_json("streaming_profile", "rotate-secret", str(profile.pk))
    profile.refresh_from_db()
    assert set(result) == {"id", "secret", "previous_secret_valid_until"}
    assert result["secret"] == profile.secret
    assert datetime.fromisoformat(result["previous_secret_valid_until"]) > datetime.now(UTC)


def test_disable() -> None:
    profile = make_profile()
    output = run("streaming_profile", "disable", str(profile.pk))
    profile.refresh_from_db()
    assert not profile.enabled
    assert f"Disabled streaming profile {profile.pk}" in output
    assert AuditEvent.objects.filter(event_type=AuditEventType.PROFILE_DISABLED).count() == 1
    assert run_json("streaming_profile", "disable", str(profile.pk))["enabled"] is False


@pytest.mark.parametrize("subcommand_name", ["rotate-secret", "disable"])
def test_unknown_or_malformed_profile_ids_are_refused(subcommand_name: str) -> None:
    profile = make_profile()
    with pytest.raises(CommandError, match=f"no streaming profile with id {profile.pk + 1}"):
        run("streaming_profile", subcommand_name, str(profile.pk + 1))
    with pytest.raises(CommandError, match="invalid int value: 'abc'"):
        run("streaming_profile", subcommand_name, "abc")
    profile.refresh_from_db()
    assert profile.enabled


def test_a_new_subcommand_is_one_decorated_method() -> None:
    class Extended(ProfileCommand):
        @subcommand("sync", help="Push to RingCX.", args=(arg("profile_id", type=int),))
        def sync(self, options: dict[str, Any]) -> None:
            self.stdout.write(f"synced {options['profile_id']}")

    out = StringIO()
    call_command(Extended(), "sync", "7", stdout=out)
    assert out.getvalue() == "synced 7\n"
    assert list(Extended.subcommands()) == ["add", "list", "rotate-secret", "disable", "sync"]


# --- calls --------------------------------------------------------------------------------------


@pytest.fixture
def calls() -> dict[str, Any]:
    base = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    return {
        "old": CallFactory(ringcx_call_id="c-old", started_at=base),
        "done": CallFactory(
            ringcx_call_id="c-1",
            session_id="1",
            started_at=base + timedelta(minutes=5),
            ended_at=base + timedelta(minutes=7),
            duration_seconds=120.06,
            end_reason="stop received",
            recording_path="2026/01/14/c-1-1.wav",
            stream_stats=stream_stats(),
        ),
        "live": CallFactory(
            ringcx_call_id="c-1",
            session_id="2",
            status=CallStatus.LIVE,
            started_at=base + timedelta(minutes=10),
            recording_path="2026/01/14/c-1-2.wav",
        ),
    }


def test_calls_list_newest_first(calls) -> None:
    lines = run("calls", "list").splitlines()
    assert lines[0].split()[:3] == ["STARTED", "(UTC)", "CALL"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["2026-01-14", "09:10:00", "c-1"],
        ["2026-01-14", "09:05:00", "c-1"],
        ["2026-01-14", "09:00:00", "c-old"],
    ]
    assert "Participant 6000 / Conference 5998" in lines[2]
    assert "2026/01/14/c-1-1.wav" in lines[2]


def test_calls_list_live_and_limit(calls) -> None:
    assert [c["session_id"] for c in run_json("calls", "list", "--live")] == ["2"]
    assert [c["ringcx_call_id"] for c in run_json("calls", "list", "--limit", "1")] == ["c-1"]
    assert len(run_json("calls", "list")) == 3


def test_calls_list_json_keys_and_values(calls) -> None:
    listed = run_json("calls", "list")
    assert all(set(c) == CALL_KEYS for c in listed)
    done = next(c for c in listed if c["session_id"] == "1")
    assert done["started_at"] == "2026-01-14T09:05:00+00:00"
    assert done["ended_at"] == "2026-01-14T09:07:00+00:00"
    assert done["duration_seconds"] == 120.06
    assert done["stream_stats"] == stream_stats()
    live = next(c for c in listed if c["session_id"] == "2")
    assert (live["ended_at"], live["stream_stats"]) == (None, {})


def test_calls_list_when_empty() -> None:
    assert run("calls", "list") == "No calls.\n"
    assert run("calls", "list", "--live") == "No live calls.\n"


def test_calls_list_refuses_a_bad_limit() -> None:
    with pytest.raises(CommandError, match="'0' must be 1 or more"):
        run("calls", "list", "--limit", "0")


def test_calls_show_every_session_by_default(calls) -> None:
    output = run("calls", "show", "c-1")
    split = output.index("Call c-1 session 2")
    first, second = output[:split], output[split:]
    assert "Call c-1 session 1 (completed)" in first
    assert "started     2026-01-14 09:05:00 UTC" in first
    assert "recording   2026/01/14/c-1-1.wav" in first
    assert "audio       wav, 2 ch, 8000 Hz, 120.06 s, 3842044 bytes" in first
    assert "numbering per_perspective, 1 socket(s), errors: bad_base64 1, taps dropped 4" in first
    assert "lag ms      p50 20, p99 180" in first
    rows = {line.split()[0]: line.split() for line in first.splitlines() if line.strip()}
    assert rows["PERSPECTIVE"][:3] == ["PERSPECTIVE", "CHANNEL", "FRAMES"]
    assert rows["Participant"] == [
        *("Participant", "left", "6000", "2", "5", "3", "60", "1", "960000"),
        *("1", "6003", "0", "960480", "True"),
    ]
    assert rows["Conference"][:3] == ["Conference", "right", "5998"]
    assert second.startswith("Call c-1 session 2 (live)")
    assert "no statistics" in second


def test_calls_show_one_session(calls) -> None:
    [shown] = run_json("calls", "show", "c-1", "--session", "1")
    assert set(shown) == CALL_KEYS
    assert (shown["session_id"], shown["recording_path"]) == ("1", "2026/01/14/c-1-1.wav")
    assert shown["stream_stats"]["perspectives"]["Conference"]["channel"] == "right"
    assert [c["session_id"] for c in run_json("calls", "show", "c-1")] == ["1", "2"]


def test_calls_show_unknown_call_or_session(calls) -> None:
    with pytest.raises(CommandError, match="no call with RingCX call id 'nope'"):
        run("calls", "show", "nope")
    with pytest.raises(CommandError, match="no call with RingCX call id 'c-1' and session id '9'"):
        run("calls", "show", "c-1", "--session", "9")
    with pytest.raises(CommandError, match="required: CALL_ID"):
        run("calls", "show")


def test_calls_show_lists_the_transcripts(calls) -> None:
    from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus

    call = Call.objects.get(ringcx_call_id="c-1", session_id="1")
    transcript = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="whisper",
        model="tiny.en",
        status=TranscriptStatus.DONE,
        progress=1.0,
    )
    TranscriptSegment.objects.create(
        transcript=transcript, seq=1, speaker="agent", start=0.0, end=1.0, text="hello"
    )
    [shown, _other_session] = run_json("calls", "show", "c-1")
    assert shown["transcripts"] == [
        {
            "kind": "post_call",
            "engine": "whisper",
            "model": "tiny.en",
            "status": "done",
            "progress": 1.0,
            "segments": 1,
            "error": "",
        }
    ]
    assert "transcript  after the call: whisper (tiny.en), done, 1 turn(s)" in run(
        "calls", "show", "c-1"
    )
