"""Pointing an exchange client at another host (a mirror, a proxy, a local stand-in)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def rebase_urls(urls: Any, primary_netloc: str, base_url: str) -> Any:
    """Point every URL on the exchange's primary host at `base_url`, keeping each path."""
    if isinstance(urls, dict):
        return {key: rebase_urls(value, primary_netloc, base_url) for key, value in urls.items()}
    if isinstance(urls, str):
        parts = urlsplit(urls)
        if parts.netloc == primary_netloc:
            return base_url.rstrip("/") + parts.path
    return urls
