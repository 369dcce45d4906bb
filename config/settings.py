"""Django settings for Crypto Tracker.

Every knob is read from the environment (and from a `.env` file at the repository root, which
never overrides variables that are already set). With nothing configured the tracker runs on a
SQLite file under `var/` with the in-process scheduler; `DATABASE_URL` switches to PostgreSQL.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from tracker.common.exchange_settings import exchange_seeds_parse

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `make test` points this at /dev/null so a developer's .env cannot change what the tests see.
ENV_FILE = Path(env.str("TRACKER_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file() or ENV_FILE.is_char_device():
    environ.Env.read_env(ENV_FILE, overwrite=False)

VAR_DIR = Path(env.str("TRACKER_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Without a configured key each process gets a random one: nothing signed can be forged, and
# the `tracker.E001` system check refuses to serve with it when DEBUG is off.
SECRET_KEY_CONFIGURED = bool(env.str("DJANGO_SECRET_KEY", default=""))
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or secrets.token_urlsafe(50)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "tracker.common",
    "tracker.accounts",
    "tracker.markets",
    "tracker.ingest",
    "tracker.runtime",
    "tracker.alerts",
    "tracker.live",
    "tracker.monitoring",
    "tracker.api",
    "tracker.dashboard",
]

MIDDLEWARE = [
    # First: the request id for the logs and X-Request-ID, and every answer counted and timed.
    "tracker.common.observability.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tracker.api.unavailable.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tracker.dashboard.compression.PageGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tracker.accounts.middleware.PasswordThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# Seconds a request waits for the database (a free pooled connection on PostgreSQL, a lock
# on SQLite) before it gives up; the API then answers 503 (tracker.api.unavailable).
DATABASE_TIMEOUT = env.float("DATABASE_TIMEOUT", default=10.0)
# PostgreSQL connections per process, at most. Under ASGI every request runs its sync view in
# a thread of its own; persistent connections would be one per thread, without bound.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=10)
if DATABASE_TIMEOUT <= 0 or DATABASE_POOL_SIZE < 1:
    raise ImproperlyConfigured("DATABASE_TIMEOUT must be above 0, DATABASE_POOL_SIZE at least 1.")


def _database(url: str) -> dict[str, object]:
    config: dict[str, object] = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the API read while the poller writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on busy_timeout instead of failing mid-transaction.
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                f"PRAGMA busy_timeout={round(DATABASE_TIMEOUT * 1000)};"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": DATABASE_TIMEOUT,
        }
        # Kept open between requests (the server runs sync code on one thread per process,
        # tracker.common.asgi), so a request does not pay for a connection and its PRAGMAs;
        # checked before each request to be still on the file at NAME (tracker.common.sqlite).
        config["ENGINE"] = "tracker.common.sqlite"
        config["CONN_MAX_AGE"] = 600
        config["CONN_HEALTH_CHECKS"] = True
        config["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    else:
        # psycopg's pool: connections are borrowed per request and handed back after it
        # (Django requires CONN_MAX_AGE=0 for that); health checks on borrowing replace the
        # connections a database restart broke.
        config["CONN_MAX_AGE"] = 0
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            "pool": {
                "min_size": min(2, DATABASE_POOL_SIZE),
                "max_size": DATABASE_POOL_SIZE,
                "timeout": DATABASE_TIMEOUT,
            }
        }
    return config


DATABASES = {
    "default": _database(
        env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every password check counts against TRACKER_THROTTLE_TOKEN (tracker.accounts.throttles).
AUTHENTICATION_BACKENDS = ["tracker.accounts.backends.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' folders when nobody ran collectstatic (tests, `make server`).
WHITENOISE_USE_FINDERS = True


def _rate(name: str, default: str) -> str:
    rate = env.str(name, default=default)
    number, _, period = rate.partition("/")
    if not number.isdigit() or period[:1] not in ("s", "m", "h", "d"):
        raise ImproperlyConfigured(f"{name}={rate!r}: expected a rate such as 100/min or 5/second")
    return rate


# How many reverse proxies append to X-Forwarded-For in front of the server: that many entries
# from the right are trusted to name the client (tracker.accounts.throttles.client_address).
# 0: none, the TCP peer is the client. The server itself never rewrites the peer's address.
TRACKER_NUM_PROXIES = env.int("TRACKER_NUM_PROXIES", default=0)
if TRACKER_NUM_PROXIES < 0:
    raise ImproperlyConfigured(f"TRACKER_NUM_PROXIES is {TRACKER_NUM_PROXIES}; 0 or more.")

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "tracker.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsers.BoundedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tracker.api.negotiation.FormatContentNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials gets 401 with WWW-Authenticate.
        "tracker.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Closed unless a view opens itself up (tracker.accounts.permissions).
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tracker.accounts.throttles.AnonThrottle",
        "tracker.accounts.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _rate("TRACKER_THROTTLE_ANON", "600/min"),
        "user": _rate("TRACKER_THROTTLE_USER", "3000/min"),
        "token": _rate("TRACKER_THROTTLE_TOKEN", "10/min"),
        "channel_test": _rate("TRACKER_THROTTLE_CHANNEL_TEST", "10/min"),
    },
    "NUM_PROXIES": TRACKER_NUM_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "tracker.api.schema.TrackerAutoSchema",
    "EXCEPTION_HANDLER": "tracker.api.errors.exception_handler",
}

# The largest request body the API parses (413 beyond); Django's own limit for forms agrees.
TRACKER_API_MAX_BODY = env.int("TRACKER_API_MAX_BODY", default=1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = TRACKER_API_MAX_BODY

SPECTACULAR_SETTINGS = {
    "TITLE": "Crypto Tracker API",
    "DESCRIPTION": (
        "Prices and volumes of crypto pairs, polled from exchanges, stored as time series and "
        "ranked by their 24-hour standard deviation."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.api.schema.add_enum_components",
    ],
}

LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# In-memory by default (one process: `make run`); Redis, shared by every process, with REDIS_URL.
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            # Redis away: a miss, not an error (tracker.common.cache); never a long hang.
            "BACKEND": "tracker.common.cache.ForgivingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
            "KEY_PREFIX": env.str("TRACKER_CACHE_PREFIX", default="tracker"),
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- the scheduler: embedded (one process) or Celery (workers and beat) -------------------------

# `embedded`: `make run` polls, evaluates and sends in its own process (APScheduler).
# `celery`: `make worker` and `make beat` do that work (tracker.runtime.tasks), the web server
# only serves; the broker is CELERY_BROKER_URL, or REDIS_URL.
TRACKER_SCHEDULER = env.str("TRACKER_SCHEDULER", default="embedded").strip().lower()
if TRACKER_SCHEDULER not in ("embedded", "celery"):
    raise ImproperlyConfigured(
        f"TRACKER_SCHEDULER={TRACKER_SCHEDULER!r}: expected embedded (the default) or celery"
    )
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
if TRACKER_SCHEDULER == "celery" and not CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "TRACKER_SCHEDULER=celery needs a broker: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
        "or CELERY_BROKER_URL (e.g. amqp://guest@127.0.0.1//)."
    )
# Pairs per poll task: an exchange with more active pairs is polled by several tasks at once.
# Kraken answers each task with every pair it lists, so a chunk much smaller than a tick's
# share of a pool process costs more parsing than it saves (docs/operations.md, Scaling).
TRACKER_POLL_CHUNK = env.int("TRACKER_POLL_CHUNK", default=2500)
if TRACKER_POLL_CHUNK < 1:
    raise ImproperlyConfigured(f"TRACKER_POLL_CHUNK is {TRACKER_POLL_CHUNK}; 1 or more.")
# Seconds a stream owner's lock lives without being extended: a dead owner is replaced after it.
TRACKER_STREAM_LOCK = env.float("TRACKER_STREAM_LOCK", default=30.0)
# The longest a task may run (seconds) before it is stopped; the broker hands an unacknowledged
# task to another worker only after CELERY_BROKER_TRANSPORT_OPTIONS' visibility timeout, above it.
TRACKER_TASK_TIME_LIMIT = env.int("TRACKER_TASK_TIME_LIMIT", default=300)
CELERY_TASK_ACKS_LATE = True  # a task is acknowledged once done: a killed worker's task is redone
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = TRACKER_TASK_TIME_LIMIT
CELERY_TASK_SOFT_TIME_LIMIT = max(1, TRACKER_TASK_TIME_LIMIT - 10)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * TRACKER_TASK_TIME_LIMIT + 60}
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TASK_ROUTES = {
    "tracker.poll_*": {"queue": "poll"},
    "tracker.alerts_*": {"queue": "alerts"},
    "tracker.deliveries_*": {"queue": "alerts"},
    "tracker.stream_*": {"queue": "stream"},
    "tracker.ranks_*": {"queue": "housekeeping"},
    "tracker.housekeeping": {"queue": "housekeeping"},
    "tracker.schedules_*": {"queue": "housekeeping"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # Django's LOGGING stays in charge

# --- the tracker --------------------------------------------------------------------------------

DEFAULT_PAIRS = "BTC/USD,ETH/USD,LTC/USD,XRP/USD,SOL/USD,ADA/USD,DOT/USD,DOGE/USD"

# The exchanges and pairs the first run creates; after that the database is the truth
# (GET/PATCH/POST /api/v1/exchanges). TRACKER_EXCHANGE(_URL) still name a single exchange.
TRACKER_EXCHANGE_SEEDS = exchange_seeds_parse(
    exchanges=env.str("TRACKER_EXCHANGES", default=None),
    exchange=env.str("TRACKER_EXCHANGE", default=None),
    exchange_url=env.str("TRACKER_EXCHANGE_URL", default=None),
    urls=env.str("TRACKER_EXCHANGE_URLS", default=""),
    ws_urls=env.str("TRACKER_EXCHANGE_WS_URLS", default=""),
    pairs=env.str("TRACKER_PAIRS", default=DEFAULT_PAIRS),
)
TRACKER_EXCHANGE_TIMEOUT = env.float("TRACKER_EXCHANGE_TIMEOUT", default=10.0)
# Seconds between two reads of the exchanges table by the runtime (enable, disable, reschedule).
TRACKER_EXCHANGE_SYNC = env.float("TRACKER_EXCHANGE_SYNC", default=2.0)
if TRACKER_EXCHANGE_SYNC <= 0:
    raise ImproperlyConfigured(f"TRACKER_EXCHANGE_SYNC is {TRACKER_EXCHANGE_SYNC:g}; above 0.")
# What each pair records, from one ticker answer (tracker.markets.models.MetricKind).
METRIC_KINDS = ("price", "volume", "bid", "ask", "spread")
TRACKER_METRICS = [
    s.strip() for s in env.str("TRACKER_METRICS", default=",".join(METRIC_KINDS)).split(",")
]
TRACKER_METRICS = list(dict.fromkeys(s for s in TRACKER_METRICS if s))
_unknown_metrics = [s for s in TRACKER_METRICS if s not in METRIC_KINDS]
if _unknown_metrics or not TRACKER_METRICS:
    raise ImproperlyConfigured(
        f"TRACKER_METRICS names unknown metric kinds {', '.join(_unknown_metrics)}; "
        f"choose from {', '.join(METRIC_KINDS)}"
        if _unknown_metrics
        else f"TRACKER_METRICS is empty; choose from {', '.join(METRIC_KINDS)}"
    )
TRACKER_FETCH_INTERVAL = env.float("TRACKER_FETCH_INTERVAL", default=60.0)
if not 1 <= TRACKER_FETCH_INTERVAL <= 86_400:
    raise ImproperlyConfigured(
        f"TRACKER_FETCH_INTERVAL is {TRACKER_FETCH_INTERVAL:g}; it must be from 1 second to "
        "86,400 (a day)."
    )
# Streamed exchanges (mode=stream): one record per pair per TRACKER_SAMPLE_INTERVAL seconds (the
# last value in it); a socket silent for TRACKER_STREAM_SILENCE seconds is replaced.
TRACKER_SAMPLE_INTERVAL = env.float("TRACKER_SAMPLE_INTERVAL", default=1.0)
TRACKER_STREAM_SILENCE = env.float("TRACKER_STREAM_SILENCE", default=30.0)
for _name, _seconds in (
    ("TRACKER_SAMPLE_INTERVAL", TRACKER_SAMPLE_INTERVAL),
    ("TRACKER_STREAM_SILENCE", TRACKER_STREAM_SILENCE),
):
    if not _seconds > 0:
        raise ImproperlyConfigured(f"{_name} is {_seconds:g}; it must be above 0 seconds.")
# Upper bound of the pause after repeated exchange failures; the pause starts at one interval.
TRACKER_BACKOFF_MAX = env.float("TRACKER_BACKOFF_MAX", default=600.0)
# How long a stopping process waits for the tick in flight before rolling it back.
TRACKER_SHUTDOWN_GRACE = env.float("TRACKER_SHUTDOWN_GRACE", default=15.0)
# Seconds from start-up to the first daily housekeeping (retention prune, expired tokens).
TRACKER_HOUSEKEEPING_DELAY = env.float("TRACKER_HOUSEKEEPING_DELAY", default=60.0)


def _duration(name: str, default: str) -> timedelta:
    """A duration such as 30d, 12h, 2w or 2y (a year is 365 days); a bare number is days."""
    text = env.str(name, default=default).strip().lower()
    units = {"h": 1 / 24, "d": 1, "w": 7, "y": 365}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "d")
    try:
        days = float(number) * units[unit]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={text!r}: expected a duration such as 30d or 2y"
        ) from None
    if days <= 0:
        raise ImproperlyConfigured(f"{name}={text!r}: must be longer than zero")
    return timedelta(days=days)


# Raw records are kept this long; minute rollups (which answer bucketed queries) longer.
TRACKER_RAW_RETENTION = _duration("TRACKER_RAW_RETENTION", "30d")
TRACKER_ROLLUP_RETENTION = _duration("TRACKER_ROLLUP_RETENTION", "2y")
# Rows deleted per transaction by the daily prune, so ingestion never waits long for it.
TRACKER_PRUNE_BATCH = env.int("TRACKER_PRUNE_BATCH", default=5000)
# PostgreSQL: months of records partitions created ahead of now by the daily housekeeping
# (tracker.markets.partitions); records beyond them land in the default partition.
TRACKER_PARTITIONS_AHEAD = env.int("TRACKER_PARTITIONS_AHEAD", default=2)
if not 1 <= TRACKER_PARTITIONS_AHEAD <= 24:
    raise ImproperlyConfigured("TRACKER_PARTITIONS_AHEAD must be from 1 to 24 (months).")

# --- accounts -----------------------------------------------------------------------------------

TRACKER_PUBLIC_READ = env.bool("TRACKER_PUBLIC_READ", default=True)
TRACKER_TOKEN_TTL = timedelta(days=env.float("TRACKER_TOKEN_TTL", default=30.0))

# --- the live stream (GET /api/v1/stream, tracker.api.stream) ------------------------------------

# Seconds without anything sent after which a stream sends a `: keepalive` comment, so that
# proxies keep the connection open and clients can tell a quiet stream from a dead one.
TRACKER_STREAM_HEARTBEAT = env.float("TRACKER_STREAM_HEARTBEAT", default=15.0)
# Seconds a stream connection lasts: the client then reconnects (with Last-Event-ID, missing
# nothing) and is authenticated again, so revoked access stops the stream within this time.
TRACKER_STREAM_MAX_AGE = env.float("TRACKER_STREAM_MAX_AGE", default=600.0)
# How far back a client can resume with Last-Event-ID: each server process keeps the ticks of
# the last TRACKER_STREAM_REPLAY seconds, and at most TRACKER_STREAM_BUFFER records of them.
TRACKER_STREAM_REPLAY = env.float("TRACKER_STREAM_REPLAY", default=300.0)
TRACKER_STREAM_BUFFER = env.int("TRACKER_STREAM_BUFFER", default=100_000)
if (
    TRACKER_STREAM_HEARTBEAT <= 0
    or TRACKER_STREAM_REPLAY <= 0
    or TRACKER_STREAM_MAX_AGE <= 0
    or TRACKER_STREAM_BUFFER < 0
):
    raise ImproperlyConfigured(
        "TRACKER_STREAM_HEARTBEAT, TRACKER_STREAM_REPLAY and TRACKER_STREAM_MAX_AGE must be "
        "above 0, TRACKER_STREAM_BUFFER 0 or more."
    )
# With REDIS_URL, ticks go from the processes that ingest to the servers on this pub/sub
# channel. Channels are shared by all databases of a Redis server: one name per deployment.
TRACKER_STREAM_CHANNEL = env.str("TRACKER_STREAM_CHANNEL", default="tracker:stream")
# Seconds between two refreshes of the overview's rows (ranks and standard deviations move with
# the rank refresh, not with each tick, which the stream brings).
TRACKER_DASHBOARD_REFRESH = env.float("TRACKER_DASHBOARD_REFRESH", default=60.0)
if TRACKER_DASHBOARD_REFRESH < 1:
    raise ImproperlyConfigured("TRACKER_DASHBOARD_REFRESH must be 1 (second) or more.")

# --- alert channels -----------------------------------------------------------------------------

# Alert webhooks, Slack and PagerDuty go to public addresses only (tracker.common.outbound);
# true lets them reach private networks and this host too, for receivers on-premise.
TRACKER_ALLOW_PRIVATE_WEBHOOKS = env.bool("TRACKER_ALLOW_PRIVATE_WEBHOOKS", default=False)
TRACKER_PAGERDUTY_URL = env.str(
    "TRACKER_PAGERDUTY_URL", default="https://events.pagerduty.com/v2/enqueue"
)

# Alert mail: smtp://user:password@host:25, smtp+tls://...:587 (STARTTLS), smtp+ssl://...:465;
# the default prints messages on the console, for development.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"] or str(VAR_DIR / "mail")  # for filemail://
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crypto-tracker@localhost")

# --- production safety ------------------------------------------------------------------------
# With DEBUG off, cookies are Secure (browsers accept them on http://localhost and 127.0.0.1)
# and HSTS can be switched on once the site is served over HTTPS only.

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- alerts -------------------------------------------------------------------------------------

# A failed delivery is tried again after BASE x 2^(attempt - 1) seconds, up to MAX attempts.
TRACKER_ALERT_RETRY_BASE = env.float("TRACKER_ALERT_RETRY_BASE", default=10.0)
TRACKER_ALERT_MAX_ATTEMPTS = env.int("TRACKER_ALERT_MAX_ATTEMPTS", default=8)
# Seconds a channel has to connect and to answer, each.
TRACKER_ALERT_TIMEOUT = env.float("TRACKER_ALERT_TIMEOUT", default=5.0)
# Deliveries sent at once, each on its own thread: a slow channel holds up only its own.
TRACKER_ALERT_SENDERS = env.int("TRACKER_ALERT_SENDERS", default=4)
# Seconds between looks for deliveries that are due (retries); new alerts are sent at once.
TRACKER_ALERT_POLL = env.float("TRACKER_ALERT_POLL", default=1.0)

# --- operations: health, metrics, logs ------------------------------------------------------

# GET /metrics answers only `Authorization: Bearer <token>` when set (401 otherwise).
TRACKER_METRICS_TOKEN = env.str("TRACKER_METRICS_TOKEN", default="")
# A Celery worker's own exporter (tracker.runtime.worker_metrics): its pool processes' counters
# on this port, with the same token as /metrics. 0: off (the laptop's default).
TRACKER_WORKER_METRICS_PORT = env.int("TRACKER_WORKER_METRICS_PORT", default=0)

LOG_LEVEL = env.str("TRACKER_LOG_LEVEL", default="INFO")
# plain: one readable line per record; json: one JSON object per line (tracker.common.logs).
TRACKER_LOG_FORMAT = env.str("TRACKER_LOG_FORMAT", default="plain").lower()
if TRACKER_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"TRACKER_LOG_FORMAT is {TRACKER_LOG_FORMAT!r}; plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "tracker.common.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": TRACKER_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tracker": {"level": LOG_LEVEL},
        "django": {"level": "WARNING"},
        "ccxt": {"level": "WARNING"},
        # A poll that overruns the interval skips the next one; the tracker logs that itself
        # as a WARNING (tracker.runtime.runner), in its own words. Job errors still show.
        "apscheduler": {"level": "ERROR"},
        "uvicorn": {"level": "INFO"},
    },
}
