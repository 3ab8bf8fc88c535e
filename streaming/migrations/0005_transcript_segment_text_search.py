"""A GIN index for full-text search of transcript lines, on PostgreSQL only.

The calls list searches ``to_tsvector('english', text)``; this index has exactly that
expression, so the search is an index lookup. SQLite has no such index (its search is a plain
"contains"), so there the migration does nothing. Built CONCURRENTLY (the migration is not
atomic) so a large table stays writable while it builds.
"""

from django.db import migrations

INDEX = "streaming_segment_text_fts"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON streaming_transcriptsegment "
        "USING gin (to_tsvector('english'::regconfig, text))"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("streaming", "0004_streamingprofile_embed_key")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
