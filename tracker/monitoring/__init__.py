"""How an operator watches the tracker: `/healthz` and `/readyz` (`health.py`), `/metrics`
(`metrics.py`) with what the database says read at scrape time (`collector.py`), and the count
of records ingested. Above the markets, which it reads; the counters themselves, the request id
and the logs are tracker.common's."""
