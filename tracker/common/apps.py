from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "tracker.common"
    label = "common"

    def ready(self) -> None:
        from tracker.markets import events

        from . import checks  # noqa: F401  (registers the checks)
        from .observability import records_ingested_count

        events.subscribe(records_ingested_count)
