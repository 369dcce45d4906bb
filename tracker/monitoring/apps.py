from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "tracker.monitoring"
    label = "monitoring"

    def ready(self) -> None:
        from tracker.markets import events

        from .metrics import records_ingested_count

        events.subscribe(records_ingested_count)
