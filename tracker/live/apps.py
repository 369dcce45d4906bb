from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "tracker.live"
    label = "live"

    def ready(self) -> None:
        # With REDIS_URL, the ticks this process ingests go out to every server's live stream.
        from .relay import relay_wire

        relay_wire()
