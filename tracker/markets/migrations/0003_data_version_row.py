from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("markets", "DataVersion").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("markets", "0002_rollups_and_data_version")]

    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
