"""The provenance of survey defaults and effect suggestions is kept as data, so each page can
say it in its reader's language; notes written before are kept as they were ({"legacy": text})."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    Stakeholder = apps.get_model("negotiation", "Stakeholder")
    Intervention = apps.get_model("negotiation", "Intervention")
    for s in Stakeholder.objects.exclude(defaults_note=""):
        s.defaults_source = {"legacy": s.defaults_note}
        s.save(update_fields=["defaults_source"])
    for i in Intervention.objects.exclude(suggestion_source=""):
        i.suggestion_data = {"legacy": i.suggestion_source}
        i.save(update_fields=["suggestion_data"])


def backwards(apps, schema_editor):
    Stakeholder = apps.get_model("negotiation", "Stakeholder")
    Intervention = apps.get_model("negotiation", "Intervention")
    for s in Stakeholder.objects.all():
        s.defaults_note = str((s.defaults_source or {}).get("legacy", ""))[:300]
        s.save(update_fields=["defaults_note"])
    for i in Intervention.objects.all():
        i.suggestion_source = str((i.suggestion_data or {}).get("legacy", ""))
        i.save(update_fields=["suggestion_source"])


class Migration(migrations.Migration):
    dependencies = [("negotiation", "0005_outcome_help_text")]

    operations = [
        migrations.AddField(
            model_name="stakeholder", name="defaults_source", field=models.JSONField(blank=True, default=dict)
        ),
        migrations.AddField(
            model_name="intervention", name="suggestion_data", field=models.JSONField(blank=True, default=dict)
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="stakeholder", name="defaults_note"),
        migrations.RemoveField(model_name="intervention", name="suggestion_source"),
        migrations.RenameField(model_name="intervention", old_name="suggestion_data", new_name="suggestion_source"),
    ]
