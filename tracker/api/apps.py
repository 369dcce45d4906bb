from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tracker.api"
    label = "api"

    def ready(self) -> None:
        # With REDIS_URL, the ticks this process ingests go out to every server's live stream.
        from tracker.dashboard.relay import relay_wire

        relay_wire()
