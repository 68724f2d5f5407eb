"""On PostgreSQL, a trigger makes the audit log append-only for every client, not only for
code that goes through the model. TRUNCATE (used by test flushes and deliberate
maintenance) is a table-level statement and is not affected."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION exports_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'exports_auditlog is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER exports_auditlog_append_only
    BEFORE UPDATE OR DELETE ON exports_auditlog
    FOR EACH ROW EXECUTE FUNCTION exports_auditlog_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS exports_auditlog_append_only ON exports_auditlog;
DROP FUNCTION IF EXISTS exports_auditlog_append_only();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("exports", "0001_initial")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
