from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save


class RuntimeConfig(AppConfig):
    name = "tracker.runtime"
    label = "runtime"

    def ready(self) -> None:
        if settings.TRACKER_SCHEDULER != "celery":
            return
        from tracker.markets.models import Exchange

        # The beat's schedules follow the exchanges table: an interval changed through the API
        # or the admin applies at the beat's next look, without a restart.
        post_save.connect(_schedules_follow, sender=Exchange, dispatch_uid="schedules-follow")
        post_migrate.connect(_schedules_prepare, sender=self, dispatch_uid="schedules-migrate")


def _schedules_follow(**_: Any) -> None:
    from .schedules import schedules_sync

    schedules_sync()


def _schedules_prepare(**_: Any) -> None:
    from .schedules import schedules_prepare

    schedules_prepare()
