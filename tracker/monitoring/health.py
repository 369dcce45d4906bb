"""`/healthz` (the process answers) and `/readyz` (what it depends on answers too).

Readiness checks the database (one query), the cache (Redis, when REDIS_URL is set), the Celery
broker (when TRACKER_SCHEDULER=celery; "not used" with the embedded scheduler) and each enabled
exchange (its last good poll younger than three intervals). The checks run side by side on a
small pool of threads and the answer waits at most `DEADLINE` seconds for them: a dependency
that hangs is reported as timed out instead of holding the probe. Each network check has its
own shorter socket timeout, so a hung thread frees itself soon after.

As the Kubernetes API server's does, `/readyz?exclude=<check>` (repeatable) leaves checks out:
a pod's readiness probe asks `/readyz?exclude=exchanges`, so an exchange's outage does not take
every web server out of its Service, while a monitor asking plain `/readyz` still sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.db import connection
from django.http import HttpRequest, JsonResponse

from tracker.common.clock import utc_now
from tracker.markets.models import Exchange

logger = logging.getLogger(__name__)

DEADLINE = 2.0  # seconds the probe waits for all its checks
SOCKET_TIMEOUT = 1.0  # seconds a network check waits to connect, and then for an answer

OK = "ok"
NOT_USED = "not used"
CHECKS = ("database", "exchanges", "cache", "broker")

# Bounded: a dependency that hangs ties up at most these threads, never one per probe.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


def healthz(request: HttpRequest) -> JsonResponse:
    """GET /healthz: 200 while the process can answer at all. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database_and_exchanges(*, exchanges: bool = True) -> dict[str, dict[str, object]]:
    """One connection for both: the exchanges are read from the database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks: dict[str, dict[str, object]] = {"database": {"status": OK}}
        if exchanges:
            checks["exchanges"] = _exchanges()
        return checks
    except Exception as exc:
        return {
            "database": {"status": "error", "detail": _text(exc)},
            "exchanges": {"status": "unknown", "detail": "the database cannot be read"},
        }
    finally:
        connection.close()


def _exchanges() -> dict[str, object]:
    now = utc_now()
    stale = []
    exchanges: dict[str, object] = {}
    for site in Exchange.objects.filter(enabled=True).order_by("name"):
        age = None if site.last_success is None else (now - site.last_success).total_seconds()
        fresh = age is not None and age <= 3 * site.interval
        exchanges[site.name] = {
            "status": OK if fresh else "stale",
            "last_success_age": None if age is None else round(age, 1),
            "interval": site.interval,
        }
        if not fresh:
            stale.append(site.name)
    return {
        "status": OK if not stale else "stale",
        **({"detail": f"no good poll in three intervals: {', '.join(stale)}"} if stale else {}),
        "exchanges": exchanges,
    }


def _redis_ping(url: str) -> dict[str, object]:
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
    )
    try:
        client.ping()
    except Exception as exc:
        return {"status": "error", "detail": _text(exc)}
    finally:
        client.close()
    return {"status": OK}


def _cache() -> dict[str, object]:
    if not settings.REDIS_URL:
        return {"status": OK, "detail": "in-process memory"}
    return _redis_ping(settings.REDIS_URL)


def _broker() -> dict[str, object]:
    if getattr(settings, "TRACKER_SCHEDULER", "embedded") != "celery":
        return {"status": NOT_USED}
    url = getattr(settings, "CELERY_BROKER_URL", "") or settings.REDIS_URL
    if not url:
        return {"status": "error", "detail": "no broker URL (CELERY_BROKER_URL, REDIS_URL)"}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_ping(url)
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=SOCKET_TIMEOUT) as broker:
            broker.ensure_connection(max_retries=1, timeout=SOCKET_TIMEOUT)
    except Exception as exc:
        return {"status": "error", "detail": _text(exc)}
    return {"status": OK}


def _text(exc: BaseException) -> str:
    # The kind of failure only: a driver's message names hosts, users and databases, and
    # the probe answers anyone. The log has the whole message.
    logger.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
    return type(exc).__name__


def readiness_check(
    *, deadline: float = DEADLINE, exclude: frozenset[str] = frozenset()
) -> tuple[bool, dict[str, dict[str, object]]]:
    """Whether every check not in `exclude` (names of CHECKS) passed, and each one's state."""
    exchanges = "exchanges" not in exclude
    jobs: dict[str, Callable[[], dict[str, dict[str, object]]]] = {
        "database": lambda: _database_and_exchanges(exchanges=exchanges),
        "cache": lambda: {"cache": _cache()},
        "broker": lambda: {"broker": _broker()},
    }
    if exclude >= {"database", "exchanges"}:
        del jobs["database"]  # the exchanges are read from the database: nothing left to ask
    for name in exclude & {"cache", "broker"}:
        del jobs[name]
    end = time.monotonic() + deadline
    futures = {name: _pool.submit(job) for name, job in jobs.items()}
    checks: dict[str, dict[str, object]] = {}
    # One deadline for all: the futures run side by side.
    for name, future in futures.items():
        try:
            checks.update(future.result(timeout=max(end - time.monotonic(), 0.01)))
        except FutureTimeout:
            checks[name] = {"status": "timeout", "detail": f"no answer within {deadline:g}s"}
            if name == "database":
                checks["exchanges"] = {"status": "unknown", "detail": "the database is not read"}
        except Exception as exc:  # a check's own bug: not ready, and say why
            logger.exception("readiness check %s failed", name)
            checks[name] = {"status": "error", "detail": _text(exc)}
    checks = {name: check for name, check in checks.items() if name not in exclude}
    ready = all(check["status"] in (OK, NOT_USED) for check in checks.values())
    return ready, checks


def _bad_exclude(problem: str) -> JsonResponse:
    return JsonResponse(
        {
            "detail": f"exclude: {problem}; the checks are {', '.join(CHECKS)}",
            "checks": list(CHECKS),
        },
        status=400,
    )


def readyz(request: HttpRequest) -> JsonResponse:
    """GET /readyz: 200 when every check passes, 503 naming the ones that did not;
    `?exclude=<check>` (repeatable) leaves checks out, 400 for a name that is not one."""
    try:
        exclude = frozenset(request.GET.getlist("exclude"))
    except TooManyFieldsSent:
        return _bad_exclude(f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters")
    unknown = sorted(exclude - set(CHECKS))
    if unknown:
        names = ", ".join(
            repr(name if len(name) <= 40 else name[:40] + "…") for name in unknown[:5]
        )
        return _bad_exclude(f"unknown check {names}")
    ready, checks = readiness_check(exclude=exclude)
    failing = [name for name, check in checks.items() if check["status"] not in (OK, NOT_USED)]
    if failing:
        logger.warning("not ready: %s", ", ".join(f"{n} {checks[n]['status']}" for n in failing))
    return JsonResponse(
        {
            "status": "ready" if ready else "unavailable",
            "failing": failing,
            "checks": checks,
            **({"excluded": sorted(exclude)} if exclude else {}),
        },
        status=200 if ready else 503,
    )
