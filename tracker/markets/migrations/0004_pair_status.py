"""Pair.active (a boolean) becomes Pair.status: active, paused (by staff) or delisted."""

from django.db import migrations, models


def status_from_active(apps, schema_editor):
    Pair = apps.get_model("markets", "Pair")
    Pair.objects.filter(active=False).update(status="paused")


def active_from_status(apps, schema_editor):
    Pair = apps.get_model("markets", "Pair")
    Pair.objects.exclude(status="active").update(active=False)


class Migration(migrations.Migration):
    dependencies = [
        ("markets", "0003_data_version_row"),
    ]

    operations = [
        migrations.AddField(
            model_name="pair",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "polled"),
                    ("paused", "paused by staff"),
                    ("delisted", "no longer listed by the exchange"),
                ],
                default="active",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="pair",
            name="status_reason",
            field=models.TextField(blank=True, help_text="Why the status last changed."),
        ),
        migrations.AddField(
            model_name="pair",
            name="status_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(status_from_active, active_from_status, elidable=False),
        migrations.RemoveField(
            model_name="pair",
            name="active",
        ),
    ]
