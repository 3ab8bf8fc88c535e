"""On PostgreSQL the database itself refuses UPDATE, DELETE and TRUNCATE of the audit table.

The application never changes an entry (the model and queryset refuse it too); the trigger
stops everyone else who connects as the application's role. A session may set
``ringadmin.audit_maintenance = on`` to pass it: only a migration that must rewrite the table,
or the test suite's flush, does. Whoever can set that, or drop the trigger, can still change
the table: the chain, the signed checkpoints kept outside the database and ``audit_verify``
are what detect that.
"""

from django.db import migrations

TABLE = "compliance_auditevent"
FUNCTION = "compliance_auditevent_refuse_change"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('ringadmin.audit_maintenance', true), '') = 'on' THEN
        IF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        IF TG_LEVEL = 'ROW' THEN RETURN NEW; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER {TABLE}_append_only
    BEFORE UPDATE OR DELETE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}();
CREATE TRIGGER {TABLE}_no_truncate
    BEFORE TRUNCATE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}();
"""

DROP = f"""
DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("compliance", "0006_audit_user_agent_and_verification")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
