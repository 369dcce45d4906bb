from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "tracker.common"
    label = "common"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
