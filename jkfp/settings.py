"""Django settings for jkfp (健康扶贫).

Everything that differs between machines comes from the environment (12-factor); every variable is
documented in ``docs/deploy.md`` (§ 配置) and ``deploy/jkfp.env``. The defaults suit one machine and
``make demo``: SQLite under ``var/`` of the working directory, plain HTTP on loopback.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# polars' allocator (jemalloc, read when polars loads: settings load first) returns freed memory to the
# system at once instead of after its 10-second decay: a 1M-row roster import builds six tables' COPY
# texts one after another, and the retained pages added up to the worker's peak (issue 18 item 9:
# at 300k rows the load's peak 644 → 579 MB, no slower). An operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

PACKAGE_DIR = Path(__file__).resolve().parent


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


HOME = Path(os.environ.get("JKFP_HOME", Path.cwd())).resolve()
# 数据目录 The data directory: the SQLite database, the secret key, uploads, attachments, reports.
VAR_DIR = Path(os.environ.get("JKFP_DATA_DIR") or HOME / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Worker heartbeats and the housekeeping stamp (jkfp.ops.worker); never backed up.
RUN_DIR = VAR_DIR / "run"


def _secret_key() -> str:
    """The key from JKFP_SECRET_KEY, else from JKFP_SECRET_KEY_FILE (default ``<data dir>/secret_key``,
    generated there once, mode 0600)."""
    if os.environ.get("JKFP_SECRET_KEY"):
        return os.environ["JKFP_SECRET_KEY"]
    key_file = Path(os.environ.get("JKFP_SECRET_KEY_FILE") or VAR_DIR / "secret_key")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_flag("JKFP_DEBUG")
# Loopback names are always allowed: the health check and the proxy talk to the site on 127.0.0.1.
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = [*_env_list("JKFP_ALLOWED_HOSTS"), *LOOPBACK_HOSTS, "testserver"]

# 在 HTTPS 反向代理之后 Behind a TLS proxy (nginx, deploy/nginx/jkfp.conf): trust its X-Forwarded-Proto,
# send cookies only over HTTPS, redirect plain HTTP (except the health check on loopback), and HSTS.
HTTPS = _env_flag("JKFP_HTTPS")
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _env_int("JKFP_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("JKFP_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Only a statement in the header; an intranet name can never be on the browsers' preload list.
    SECURE_HSTS_PRELOAD = _env_flag("JKFP_HSTS_PRELOAD", default=True)
# Origins allowed to POST besides the site itself (e.g. another name or port of the same proxy).
CSRF_TRUSTED_ORIGINS = _env_list("JKFP_CSRF_TRUSTED_ORIGINS")
# Proxies whose X-Real-IP is believed as the client's address (audit log, login throttling).
TRUSTED_PROXIES = frozenset(_env_list("JKFP_TRUSTED_PROXIES", "127.0.0.1,::1"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "jkfp.core",
    "jkfp.regions",
    "jkfp.accounts",
    "jkfp.registry",
    "jkfp.treatment",
    "jkfp.capacity",
    "jkfp.care",
    "jkfp.settlement",
    "jkfp.monitoring",
    "jkfp.indicators",
    "jkfp.ops",
    "jkfp.offline",
    "jkfp.web",
    "jkfp.cli",
]

MIDDLEWARE = [
    "jkfp.core.proxy.TrustedProxyMiddleware",  # the client's address from a trusted proxy's X-Real-IP
    # Every audit row of a request carries its address and browser; denials, searches, API reads, writes.
    "jkfp.accounts.middleware.AuditMiddleware",
    "jkfp.api.middleware.ApiFastPathMiddleware",  # /api/: token auth, JSON — skips the browser middleware
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages compressed (with Django's BREACH mitigation); static files come compressed from whitenoise.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "jkfp.web.middleware.NoStoreMiddleware",  # Cache-Control: no-store on every signed-in response
    "django.contrib.messages.middleware.MessageMiddleware",
    "jkfp.web.accounts.PasswordChangeRequiredMiddleware",
    "jkfp.web.permissions.PermissionMatrixMiddleware",  # docs/permissions.md, before every view
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "jkfp.core.replica.ReadYourWritesMiddleware",  # a browser that wrote reads the primary for a while
]

ROOT_URLCONF = "jkfp.urls"
WSGI_APPLICATION = "jkfp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "web" / "templates"],
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'jkfp.sqlite3'}",
        conn_max_age=int(os.environ.get("JKFP_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work during an import; IMMEDIATE avoids upgrade deadlocks between writers.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
    }

# 连接池 psycopg's pool in each process (Django's OPTIONS["pool"]) instead of persistent connections:
# JKFP_DB_POOL_MAX_SIZE connections at most per process and database (0: no pool). Several app servers
# against one primary: their processes × this ≤ the server's max_connections less what other clients
# need (docs/deploy.md, 连接池).
DB_POOL_MAX_SIZE = _env_int("JKFP_DB_POOL_MAX_SIZE", 0)
DB_POOL_MIN_SIZE = _env_int("JKFP_DB_POOL_MIN_SIZE", 1)
DB_POOL_TIMEOUT = _env_int("JKFP_DB_POOL_TIMEOUT", 10)


# 即时编译 PostgreSQL's JIT compiles a statement whose estimated cost is high. In a province the
# estimates of a county's index-driven statements grow with the province's tables while their work does
# not (a county's roster comparison: 0.16 s of work, 0.25 s of compiling at 2M persons), so the app's
# connections turn it off; the snapshot refresh, whole-province aggregates where compiling pays, turns it
# on for itself (core.bulkdb.jit_for_aggregates). JKFP_PG_JIT=server leaves the server's setting alone.
PG_JIT = os.environ.get("JKFP_PG_JIT", "").strip().lower() or "off"
if PG_JIT not in ("off", "server"):
    raise ImproperlyConfigured(f"JKFP_PG_JIT 只能是 off 或 server / must be off or server, not {PG_JIT!r}")


def _postgres_options(database: dj_database_url.DBConfig) -> None:
    if database["ENGINE"] != "django.db.backends.postgresql":
        return
    if PG_JIT == "off":
        options = database.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    if DB_POOL_MAX_SIZE <= 0:
        return
    database["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django refuses both
    database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
    }


_postgres_options(DATABASES["default"])

# 只读副本 A PostgreSQL streaming replica for the read-only pages (dashboards, drill-downs, ledgers,
# reports, exports): jkfp.core.replica, docs/deploy.md (只读副本). Reads fall back to the primary when
# the replica is down or lags more than JKFP_REPLICA_MAX_LAG_SECONDS; checked every
# JKFP_REPLICA_CHECK_SECONDS at most, per process.
REPLICA_MAX_LAG_SECONDS = float(os.environ.get("JKFP_REPLICA_MAX_LAG_SECONDS", "").strip() or 10)
REPLICA_CHECK_SECONDS = float(os.environ.get("JKFP_REPLICA_CHECK_SECONDS", "").strip() or 5)
if os.environ.get("DATABASE_REPLICA_URL", "").strip():
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL 需要 PostgreSQL 主库 needs DATABASE_URL=postgres://…"
        )
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"].strip(),
        conn_max_age=int(os.environ.get("JKFP_CONN_MAX_AGE", "60")),
    )
    # A replica that does not answer is given up quickly (reads then use the primary).
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = 2
    # Tests: the replica alias is the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    _postgres_options(DATABASES["replica"])
    DATABASE_ROUTERS = ["jkfp.core.replica.ReplicaRouter"]

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "jkfp.accounts.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# Login throttling (django-axes, jkfp/accounts/throttle.py): 5 failures of one account from any
# address, or 20 from one address for any accounts, lock it for 15 minutes (site and /admin/ alike);
# a county administrator unlocks an account on the users page.
AXES_FAILURE_LIMIT = int(os.environ.get("JKFP_LOGIN_ACCOUNT_FAILURES", "5"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("JKFP_LOGIN_ADDRESS_FAILURES", "20"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "jkfp.accounts.throttle.LoginThrottleHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "jkfp.web.accounts.login_locked"
AXES_VERBOSE = False

# The hospital API refuses a total cost above this (yuan) as implausible (422 naming total_amount).
CLAIM_PLAUSIBLE_MAX_AMOUNT = os.environ.get("JKFP_CLAIM_PLAUSIBLE_MAX_AMOUNT", "5000000.00")

LANGUAGE_CODE = "zh-hans"
# ISO dates in date inputs (jkfp/core/formats/zh_Hans/formats.py explains why).
FORMAT_MODULE_PATH = ["jkfp.core.formats"]
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# 静态文件 Collected once (``jkfp init``, or prebuilt in the release bundle) into STATIC_ROOT: hashed
# names, gzip and brotli copies, only the files the pages use (docs/adr/0010-deployment.md).
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("JKFP_STATIC_ROOT") or VAR_DIR / "static").resolve()
# whitenoise warns (an error under pytest -W error) when STATIC_ROOT does not exist yet.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
STATICFILES_FINDERS = ["jkfp.ops.static.PageStaticFinder"]
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = VAR_DIR / "media"
IMPORT_DIR = VAR_DIR / "imports"
# Uploads: at most JKFP_UPLOAD_MAX_MB (100) MB per file; larger ones are refused with a message, never
# half-read. nginx's client_max_body_size is this plus 1 MB for the form around the file.
UPLOAD_MAX_MB = _env_int("JKFP_UPLOAD_MAX_MB", 100)
UPLOAD_MAX_BYTES = UPLOAD_MAX_MB * 1024 * 1024
# 读取上限 Every CSV/XLSX (web or command line) is read within these (jkfp/core/tablebounds.py): a
# workbook's parts unpacked (a 1M-row roster .xlsx unpacks to about 440 MB), data rows, columns and
# characters per cell (Excel's own limit). Over a limit the import fails with the limit named.
IMPORT_MAX_INFLATED_MB = _env_int("JKFP_IMPORT_MAX_INFLATED_MB", 1024)
IMPORT_MAX_ROWS = _env_int("JKFP_IMPORT_MAX_ROWS", 2_000_000)
IMPORT_MAX_COLUMNS = _env_int("JKFP_IMPORT_MAX_COLUMNS", 300)
IMPORT_MAX_CELL_CHARS = _env_int("JKFP_IMPORT_MAX_CELL_CHARS", 32_767)
# 后台任务内存上限 Each worker process's data memory ceiling (RLIMIT_DATA, MB; 0: none): a task that
# needs more fails alone (MemoryError, or the process ends and is restarted), never the site.
WORKER_MEMORY_MB = _env_int("JKFP_WORKER_MEMORY_MB", 4096)
# 数据清理 Error reports of imports are kept this many days; task results and throttling records too.
ERROR_REPORT_DAYS = _env_int("JKFP_ERROR_REPORT_DAYS", 30)
TASK_RESULT_DAYS = _env_int("JKFP_TASK_RESULT_DAYS", 30)
THROTTLE_RECORD_DAYS = _env_int("JKFP_THROTTLE_RECORD_DAYS", 90)
# 审计 The audit page warns when one account got more than this many denied accesses within an hour.
AUDIT_DENIAL_ALERT = _env_int("JKFP_AUDIT_DENIAL_ALERT", 20)
# 后台导出 Heavy exports run in the worker: at most this many queued or running per user; the finished
# files are kept this many hours (then housekeeping deletes them).
EXPORT_MAX_PER_USER = _env_int("JKFP_EXPORT_MAX_PER_USER", 2)
EXPORT_KEEP_HOURS = _env_int("JKFP_EXPORT_KEEP_HOURS", 24)
# /healthz: unhealthy below this much free disk in the data directory, or with no worker heartbeat.
HEALTH_MIN_FREE_MB = _env_int("JKFP_MIN_FREE_DISK_MB", 1024)
HEALTH_WORKER_STALE_SECONDS = _env_int("JKFP_WORKER_STALE_SECONDS", 120)
# A CJK font file for the PDFs (slips, contact cards); found by jkfp.core.fonts when not set.
CJK_FONT = os.environ.get("JKFP_CJK_FONT", "")
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

TASKS = {
    "default": {
        "BACKEND": os.environ.get("JKFP_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
# No script reads the CSRF cookie: pages carry the token (forms, and hx-headers on <body> for htmx).
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# 日志 To standard error (journald under systemd) and, with JKFP_LOG_FILE, to a file that logrotate
# may move (WatchedFileHandler reopens it).
LOG_LEVEL = os.environ.get("JKFP_LOG_LEVEL", "WARNING").upper()
LOG_FILE = os.environ.get("JKFP_LOG_FILE", "")
LOGGING: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        **(
            {
                "file": {
                    "class": "logging.handlers.WatchedFileHandler",
                    "filename": LOG_FILE,
                    "formatter": "plain",
                }
            }
            if LOG_FILE
            else {}
        ),
    },
    "root": {"handlers": ["console", "file"] if LOG_FILE else ["console"], "level": LOG_LEVEL},
    # Deletions (issue 15 §8) and the worker's start and stop are always recorded.
    "loggers": {name: {"level": "INFO"} for name in ("jkfp.housekeeping", "jkfp.worker")},
}
