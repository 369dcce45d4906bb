from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "tracker.ingest"
    label = "ingest"
