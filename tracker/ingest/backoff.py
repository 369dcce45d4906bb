"""Backoff lives in `tracker.common.backoff`, where the exchange layer can use it too."""

from tracker.common.backoff import Backoff

__all__ = ["Backoff"]
