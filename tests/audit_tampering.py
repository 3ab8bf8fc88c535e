"""What someone with direct database access, past the append-only trigger, could do to the
audit table: the tests use it to check that verification notices."""

from __future__ import annotations

from typing import Any

from django.db import connection

from ringadmin.compliance.models import AuditEvent

TABLE = AuditEvent._meta.db_table


def tamper(sql: str, params: list[Any] | None = None) -> None:
    """Run ``sql`` (``{table}`` is the audit table) with the trigger passed for this statement
    only, as a database owner could (on SQLite there is no trigger)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('ringadmin.audit_maintenance', 'on', true)")
        cursor.execute(sql.format(table=TABLE), params or [])
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('ringadmin.audit_maintenance', '', true)")
