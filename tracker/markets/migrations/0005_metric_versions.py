"""The one global DataVersion row becomes a version and a change time per metric.

Metrics that already hold records start at version 1, changed when the data last changed.
"""

from django.db import migrations, models


def versions_from_data_version(apps, schema_editor):
    DataVersion = apps.get_model("markets", "DataVersion")
    Metric = apps.get_model("markets", "Metric")
    changed_at = DataVersion.objects.filter(id=1).values_list("changed_at", flat=True).first()
    Metric.objects.filter(reference__isnull=False).update(version=1, changed_at=changed_at)


def data_version_from_versions(apps, schema_editor):
    DataVersion = apps.get_model("markets", "DataVersion")
    Metric = apps.get_model("markets", "Metric")
    totals = Metric.objects.aggregate(
        version=models.Sum("version"), changed_at=models.Max("changed_at")
    )
    DataVersion.objects.update_or_create(
        id=1, defaults={"version": totals["version"] or 0, "changed_at": totals["changed_at"]}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("markets", "0004_pair_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="metric",
            name="changed_at",
            field=models.DateTimeField(
                editable=False, help_text="When records of this metric were last stored.", null=True
            ),
        ),
        migrations.AddField(
            model_name="metric",
            name="version",
            field=models.BigIntegerField(
                default=0,
                editable=False,
                help_text="Grows by one with every ingest that stores records of this metric, in the same transaction: the key of its cached answers.",
            ),
        ),
        migrations.AddIndex(
            model_name="metric",
            index=models.Index(fields=["kind"], name="metric_kind"),
        ),
        migrations.RunPython(versions_from_data_version, data_version_from_versions),
        migrations.DeleteModel(
            name="DataVersion",
        ),
    ]
