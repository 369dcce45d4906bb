"""Looking things up on the live tracker the way its pages do: through the API."""

from __future__ import annotations

from playwright.sync_api import Page


def metric_id(page: Page, pair: str, kind: str = "price") -> int:
    """The id of `pair`'s `kind` metric, from the metrics list."""
    metrics = page.request.get("/api/v1/metrics").json()
    return next(m["id"] for m in metrics if (m["pair"], m["metric"]) == (pair, kind))


def live(page: Page, *, timeout: float = 15_000) -> None:
    """Wait until the page follows the records stream (the footer says so)."""
    page.wait_for_function(
        "document.getElementById('live-state').dataset.state === 'on'", timeout=timeout
    )
