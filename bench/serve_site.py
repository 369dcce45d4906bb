"""The tracker's settings with one more URL, a bare Django JSON view, for bench/serve.py.

The bare view goes through the same server, middleware and database settings as the API, so
the ratio of the API to it measures what the API adds on top of Django itself.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.serve_urls"
