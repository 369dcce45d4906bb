"""ASGI entry point: `uvicorn config.asgi:application`."""

import gc
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

# Every view is imported now rather than by the first request, and what the process has loaded
# (Django, DRF, ccxt: a quarter of a million objects) is left out of garbage collection from
# here on: it lives as long as the process, and a full collection walking it held every
# request on this worker for about 100 ms.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
gc.freeze()

# Bodies over the limit are refused before Django spools them to disk.
application = BodyLimit(django_application, max_bytes=settings.TRACKER_API_MAX_BODY)
