"""Civic settings, all read from the environment.

With nothing set, Civic boots on a SQLite file, a local-memory cache and Celery tasks run eagerly
in-process (the embedded default). `DATABASE_URL` switches to PostgreSQL and `REDIS_URL` to Redis
as broker, result backend and cache, with real workers.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
# The development key only exists so the embedded default (tests, commands, `make demo`) boots. The
# web server refuses to start on it with DEBUG off (civic/wsgi.py), and `check --deploy` flags it.
DEVELOPMENT_SECRET_KEY = "django-insecure-" + "civic-development-only-key-" + "x" * 20
SECRET_KEY = envstr("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# The public address of the site, e.g. https://civic.montreal.ca: the base of every link sent to
# residents. Unset, web pages use the address the request came in on and commands localhost.
SITE_URL = envstr("SITE_URL", "")

# Mail (invitations): EMAIL_BACKEND defaults to printing messages on the console. With
# django.core.mail.backends.smtp.EmailBackend, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD and EMAIL_USE_TLS say where to send them.
_EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_SMTP_OPTIONS = {
    "host": envstr("EMAIL_HOST", "localhost"),
    "port": envint("EMAIL_PORT", 25),
    "username": envstr("EMAIL_HOST_USER", ""),
    "password": envstr("EMAIL_HOST_PASSWORD", ""),
    "use_tls": envbool("EMAIL_USE_TLS", False),
    "timeout": 20,
}
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": (
            _SMTP_OPTIONS
            if _EMAIL_BACKEND.endswith("smtp.EmailBackend")
            # The file backend (one file per message in EMAIL_FILE_PATH) suits a staging site.
            else {"file_path": envstr("EMAIL_FILE_PATH", "var/mail")}
            if _EMAIL_BACKEND.endswith("filebased.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "civic@localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "core",
    "surveys",
    "analytics",
    "negotiation",
    "api",
    "exports",
    "studio",
    "results",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "civic.middleware.BadInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "civic.middleware.LoginThrottleMiddleware",
]
# The autosave's lane (civic/lanes.py): what a resident's JSON save needs of the stack above, in the
# same order. Whatever it does not save goes through MIDDLEWARE as every other request does.
AUTOSAVE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "civic.middleware.BadInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "civic.urls"
WSGI_APPLICATION = "civic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite file by default; any dj-database-url form through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        # A health check before reusing a connection lets the app survive a PostgreSQL restart.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No statement runs, and no lock is waited for, without bound: a table locked by a migration
    # or a long transaction gives a resident a clear "busy, try again" (civic/middleware.py)
    # instead of a page that hangs for the whole lock. Milliseconds; 0 disables.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["options"] = (
        f"-c statement_timeout={envint('DB_STATEMENT_TIMEOUT_MS', 30_000)}"
        f" -c lock_timeout={envint('DB_LOCK_TIMEOUT_MS', 5_000)}"
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL and a busy timeout let concurrent autosaves queue instead of failing on a locked file.
    # IMMEDIATE transactions take the write lock up front, so a second writer waits for it
    # instead of failing with "database is locked" when it tries to upgrade a read lock.
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, result backend and cache when REDIS_URL is set.
REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = envstr("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", not (REDIS_URL or os.environ.get("CELERY_BROKER_URL")))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 660)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# socket_timeout: without it a publish to a Redis that stops answering but keeps the TCP connection
# (frozen, failover, network partition) waits forever, holding the web request that asked for it.
# Workers are unaffected: their BRPOP returns within a second.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 2}
# Publishing must fail fast when Redis is down; the job stays a pending row that the sweep re-sends.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_IMPORTS = ["core.tasks"]
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-jobs": {"task": "core.tasks.jobs_sweep_task", "schedule": 15.0},
    "sweep-pending-mailings": {"task": "studio.tasks.mailing_sweep_task", "schedule": 30.0},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "staff-home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "America/Toronto")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# plotly.js is served from the installed plotly package as vendor/plotly.min.js (no 4 MB copy).
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics.staticfinders.PlotlyFinder",
]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "media")))
# Private files (anonymised exports) live outside MEDIA_ROOT so no URL can reach them.
PRIVATE_ROOT = Path(envstr("PRIVATE_ROOT", str(BASE_DIR / "var" / "exports")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if not envbool("STATIC_MANIFEST", False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True
# Without collectstatic (development, tests) WhiteNoise serves through the finders; its warning
# that STATIC_ROOT does not exist yet is noise there.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# JSON bodies nesting arrays/objects deeper than this are refused with 400 (civic/middleware.py).
JSON_MAX_DEPTH = envint("JSON_MAX_DEPTH", 64)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Security. Production runs with DEBUG off behind TLS; these are safe in development too.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
# A resident's session (nothing but their participant id) lives in a signed cookie, so an autosave
# reads no session row; every other session, a signed-in user's above all, stays in the database
# where signing out ends it (core/sessions.py).
SESSION_ENGINE = "core.sessions"
SESSION_SIGNED_COOKIE_KEYS = ["civic_participant_id", "civic_language"]
CSRF_COOKIE_HTTPONLY = False
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

REST_FRAMEWORK = {
    # The API token comes first so an unauthenticated request gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    # No filter or ordering backends: query parameters other than `page` are ignored, so
    # `?ordering=password` or `?user__email__startswith=` cannot probe anything.
    "DEFAULT_FILTER_BACKENDS": [],
    # The browsable pages' titles and descriptions in the reader's language.
    "VIEW_NAME_FUNCTION": "api.views.view_name",
    "VIEW_DESCRIPTION_FUNCTION": "api.views.view_description",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Civic API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Studies, resident answers, analysis runs, negotiation sessions and anonymised exports.",
    # Strangers get nothing from the API, not even its shape.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "surveys.models.Study.Status",
        "JobStatusEnum": "core.jobs.Job.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Invitation tokens travel in paths; no log line keeps one (civic/logs.py).
    "filters": {"scrub_tokens": {"()": "civic.logs.TokenScrubFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["scrub_tokens"]}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
}

# Invitations and resident sessions.
INVITATION_TTL_DAYS = envint("INVITATION_TTL_DAYS", 90)
# How long a live negotiation delegate's personal link stays valid.
DELEGATE_TTL_HOURS = envint("DELEGATE_TTL_HOURS", 72)

# Throttling of guesses: (failures allowed, window in seconds); see core/throttle.py.
# NUM_PROXIES: how many reverse proxies in front of the app append to X-Forwarded-For (1 behind one
# TLS proxy); the header is only believed from a peer in TRUSTED_PROXIES (CIDR networks).
NUM_PROXIES = envint("NUM_PROXIES", 0)
TRUSTED_PROXIES = envlist(
    "TRUSTED_PROXIES", ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
)
THROTTLES = {
    # Unknown invitation / API tokens per address (valid ones are never refused).
    "invitation": (envint("THROTTLE_INVITATION_FAILURES", 20), 600),
    "api_token": (envint("THROTTLE_INVITATION_FAILURES", 20), 600),
    # Failed sign-ins per (address, account), per account, per address, and per known browser.
    "login": (envint("THROTTLE_LOGIN_FAILURES", 10), 900),
    "login_account": (envint("THROTTLE_ACCOUNT_FAILURES", 50), 900),
    "login_address": (envint("THROTTLE_ADDRESS_FAILURES", 100), 900),
    "login_device": (envint("THROTTLE_LOGIN_FAILURES", 10), 900),
    # Joins through an open study link, counted per address: enough for a family or a library.
    "join": (envint("THROTTLE_OPEN_JOINS", 30), 3600),
}
