"""ASGI entry point: `uvicorn config.asgi:application`."""

import os

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from tracker.common.asgi import SharedThreadASGIHandler  # noqa: E402

django_application = SharedThreadASGIHandler()

from tracker.common.body_limit import BodyLimit  # noqa: E402  (needs the apps loaded)
from tracker.common.checks import refuse_unsafe_start  # noqa: E402

refuse_unsafe_start()

# Bodies over the limit are refused before Django spools them to disk.
application = BodyLimit(django_application, max_bytes=settings.TRACKER_API_MAX_BODY)
