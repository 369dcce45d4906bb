"""Checks that stop the tracker from serving with an unsafe configuration.

They are deployment checks, so `migrate` and friends run without a secret key, while every
entry point that serves or polls calls `refuse_unsafe_start()` first.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import ERROR, CheckMessage, Error, register, run_checks
from django.core.management.base import SystemCheckError

TAG = "tracker"


@register(TAG, deploy=True)
def secret_key_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or settings.SECRET_KEY_CONFIGURED:
        return []
    return [
        Error(
            "DJANGO_SECRET_KEY is not set and DJANGO_DEBUG is off.",
            hint="Set DJANGO_SECRET_KEY in the environment or in .env (`make env` writes one).",
            id="tracker.E001",
        )
    ]


def refuse_unsafe_start() -> None:
    """Raise SystemCheckError listing every failed tracker check."""
    errors = [m for m in run_checks(tags=[TAG], include_deployment_checks=True) if m.level >= ERROR]
    if errors:
        raise SystemCheckError("refusing to start:\n" + "\n".join(str(e) for e in errors))
