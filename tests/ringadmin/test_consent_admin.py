"""The notices' admin: drafts through the service, publish/retire actions (audited), preview,
published versions read-only; the profile admin names a series."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ringadmin.compliance.consent import notice_draft
from ringadmin.compliance.consent_models import ConsentNotice, ConsentNoticeSeries, NoticeStatus
from ringadmin.compliance.models import AuditEvent, AuditEventType

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    user = make_user("admin")
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def draft():
    series = ConsentNoticeSeries.objects.create(key="uk", name="UK")
    return notice_draft(
        series=series,
        kind="announcement",
        text="Calls are recorded.",
        key_phrase="calls are recorded",
        effective_from=timezone.now() - timedelta(hours=1),
    )


def test_publish_action_preview_and_read_only_after(admin_client, draft) -> None:
    url = "/admin/compliance/consentnotice/"
    response = admin_client.post(
        url, {"action": "publish_selected", "_selected_action": [draft.pk]}, follow=True
    )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == NoticeStatus.PUBLISHED
    assert AuditEvent.objects.filter(
        event_type=AuditEventType.CONSENT_NOTICE_PUBLISHED, target_id=str(draft.pk)
    ).exists()
    preview = admin_client.get(f"{url}{draft.pk}/preview/")
    assert b"Calls are recorded." in preview.content
    change = admin_client.get(f"{url}{draft.pk}/change/")
    assert b'name="text"' not in change.content  # read-only now
    refused = admin_client.post(f"{url}{draft.pk}/change/", {"text": "changed", "kind": "beep"})
    assert refused.status_code == 403
    assert ConsentNotice.objects.get(pk=draft.pk).text == "Calls are recorded."


def test_adding_a_notice_in_the_admin_drafts_the_next_version(admin_client, draft) -> None:
    response = admin_client.post(
        "/admin/compliance/consentnotice/add/",
        {
            "series": draft.series_id,
            "kind": "beep",
            "language": "en",
            "text": "Beep every 15 s.",
            "key_phrase": "",
            "window_seconds": 30,
            "effective_from_0": "2026-01-01",
            "effective_from_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    newest = ConsentNotice.objects.order_by("-version").first()
    assert (newest.version, newest.status) == (2, NoticeStatus.DRAFT)
    assert AuditEvent.objects.filter(event_type=AuditEventType.CONSENT_NOTICE_DRAFTED).count() == 2
