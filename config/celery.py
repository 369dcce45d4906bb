"""The Celery application of `TRACKER_SCHEDULER=celery`: `celery -A config worker` and `beat`.

Its settings are Django's `CELERY_*` ones (config/settings.py): the broker (CELERY_BROKER_URL or
REDIS_URL), late acknowledgement, time limits and the routes to the queues `poll`, `alerts`,
`housekeeping` and `stream`. The tasks are in tracker.runtime.tasks; they call the same services
as the embedded scheduler.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["tracker.runtime"])
