"""Stagemail settings.

This module is the only place that reads the environment. Every variable is
documented in README.md ("Configuration"). A `.env` file in the project root,
written by `make run` on first start, is loaded if present; real environment
variables win over it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean strictly: an unknown spelling is an error, never False."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off."
    )


def env_ports(name: str) -> tuple[tuple[int, int], ...]:
    """Ports and ranges, comma-separated ("1025, 8025-8099"); a bad item is an error."""
    ranges = []
    for item in env.list(name, default=[]):
        first, dash, last = item.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            low = high = 0
        if not 1 <= low <= high <= 65535:
            raise ImproperlyConfigured(
                f"{name}: “{item}” is not a port (1 to 65535) or a range such as 8025-8099."
            )
        ranges.append((low, high))
    return tuple(ranges)


DEBUG = env_bool("DEBUG", default=False)

# Required, but checked by `emailconfig.E005` rather than here, so commands that need no
# key (makemigrations) still run and `manage.py check` reports it in a readable way.
SECRET_KEY = env.str("SECRET_KEY", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys, comma-separated: the first encrypts, all decrypt. Validated by
# the system check `emailconfig.E001` rather than here, so a bad key is
# reported with a readable message by `manage.py check` and at startup.
STAGEMAIL_ENCRYPTION_KEYS = env.list("STAGEMAIL_ENCRYPTION_KEYS", default=[])

# The outbound service. See README, "Outbound email service".
STAGEMAIL_API_RATE_LIMIT = env.int("STAGEMAIL_API_RATE_LIMIT", default=600)  # per app+stage+minute
STAGEMAIL_MAX_MESSAGE_AGE = env.int("STAGEMAIL_MAX_MESSAGE_AGE", default=24 * 3600)  # seconds
STAGEMAIL_RETRY_BASE = env.float("STAGEMAIL_RETRY_BASE", default=30.0)  # first retry, seconds
STAGEMAIL_RETRY_MAX = env.float("STAGEMAIL_RETRY_MAX", default=3600.0)  # longest wait, seconds
STAGEMAIL_LEASE_SECONDS = env.int("STAGEMAIL_LEASE_SECONDS", default=300)
STAGEMAIL_MAX_ATTACHMENTS = env.int("STAGEMAIL_MAX_ATTACHMENTS", default=10)
STAGEMAIL_MAX_MESSAGE_BYTES = env.int("STAGEMAIL_MAX_MESSAGE_BYTES", default=10 * 1024 * 1024)
# Days finished messages are kept (the workers remove older ones); 0 keeps them forever.
STAGEMAIL_RETENTION_DAYS = env.int("STAGEMAIL_RETENTION_DAYS", default=0)
# Days audit entries are kept (the workers remove older ones); 0 keeps them forever.
STAGEMAIL_AUDIT_RETENTION_DAYS = env.int("STAGEMAIL_AUDIT_RETENTION_DAYS", default=0)
# The local development sink's pages (what `make run`'s SMTP sink received); on with DEBUG.
STAGEMAIL_LOCAL_SINK = env_bool("STAGEMAIL_LOCAL_SINK", default=DEBUG)
# Where delivery may connect (emailconfig/outbound.py). See README, "Outbound connections".
STAGEMAIL_ALLOW_PRIVATE_HOSTS = env_bool("STAGEMAIL_ALLOW_PRIVATE_HOSTS", default=False)
STAGEMAIL_ALLOWED_SMTP_PORTS = env_ports("STAGEMAIL_ALLOWED_SMTP_PORTS")  # besides 25, 465, …
STAGEMAIL_ALLOWED_HTTPS_PORTS = env_ports("STAGEMAIL_ALLOWED_HTTPS_PORTS")  # besides 443
STAGEMAIL_SENDGRID_HOSTS = [
    host.strip().lower().rstrip(".") for host in env.list("STAGEMAIL_SENDGRID_HOSTS", default=[])
]
# Where Microsoft 365 OAuth2 tokens are asked for; a national cloud has its own.
STAGEMAIL_MICROSOFT_AUTHORITY = env.str(
    "STAGEMAIL_MICROSOFT_AUTHORITY", default="https://login.microsoftonline.com"
)
STAGEMAIL_CONNECTION_TESTS_PER_MINUTE = env.int("STAGEMAIL_CONNECTION_TESTS_PER_MINUTE", default=10)
# Templates render in child processes bounded by the OS (see README, "Template limits"):
# how many per portal process (0: in the portal process itself, for measurements only),
# the memory each may use on top of its own, and the time for all parts of one request.
STAGEMAIL_RENDER_PROCESSES = env.int("STAGEMAIL_RENDER_PROCESSES", default=2)
STAGEMAIL_RENDER_MEMORY_MB = env.int("STAGEMAIL_RENDER_MEMORY_MB", default=128)
STAGEMAIL_RENDER_SECONDS = env.float("STAGEMAIL_RENDER_SECONDS", default=2.0)
# Sign-in protection (see README, "Sign-in protection"): this many failed sign-ins for an
# account, or from an address, within the lockout time refuse further attempts for that time.
STAGEMAIL_SIGNIN_FAILURE_LIMIT = env.int("STAGEMAIL_SIGNIN_FAILURE_LIMIT", default=10)
STAGEMAIL_SIGNIN_LOCKOUT_MINUTES = env.int("STAGEMAIL_SIGNIN_LOCKOUT_MINUTES", default=15)
# Reverse proxies in front of the portal whose X-Forwarded-For is trusted for the client's
# address; 0 counts the connection's own address.
STAGEMAIL_TRUSTED_PROXY_COUNT = env.int("STAGEMAIL_TRUSTED_PROXY_COUNT", default=0)
# Administrators (and, with stage roles, production editors) must use an authenticator app.
STAGEMAIL_REQUIRE_MFA = env_bool("STAGEMAIL_REQUIRE_MFA", default=False)
# A session unused for this long is signed out.
STAGEMAIL_IDLE_TIMEOUT_MINUTES = env.int("STAGEMAIL_IDLE_TIMEOUT_MINUTES", default=60)
# SMTP submission for apps (`manage.py run_smtp_ingress`, see README "SMTP submission"):
# host:port for plain SMTP with STARTTLS, an optional port on the same host for implicit
# TLS, and the certificate chain and key files (PEM). Without a certificate it listens on
# loopback only.
STAGEMAIL_SMTP_INGRESS = env.str("STAGEMAIL_SMTP_INGRESS", default="")
STAGEMAIL_SMTP_INGRESS_TLS_PORT = env.int("STAGEMAIL_SMTP_INGRESS_TLS_PORT", default=0)
STAGEMAIL_SMTP_INGRESS_CERT = env.str("STAGEMAIL_SMTP_INGRESS_CERT", default="")
STAGEMAIL_SMTP_INGRESS_KEY = env.str("STAGEMAIL_SMTP_INGRESS_KEY", default="")
# The API reads JSON bodies (base64 attachments grow by a third); bigger ones get a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = STAGEMAIL_MAX_MESSAGE_BYTES * 4 // 3 + 1024 * 1024

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "emailconfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ itself (compressed, hashed names, cached for a year); right after
    # SecurityMiddleware, as whitenoise asks, so it answers before the rest runs.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "emailconfig.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "emailconfig.context_processors.portal",
            ],
        },
    },
]
# Widgets (such as the write-only secret input) live in templates/ too.
FORM_RENDERER = "portal.forms.PortalFormRenderer"

WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'stagemail.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the portal read while a worker writes; the busy timeout makes a
    # writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes counts failed sign-ins; its backend refuses a locked-out account or address
# before the password is checked, so the right password is refused too.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = STAGEMAIL_SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=STAGEMAIL_SIGNIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # an account, or an address
AXES_RESET_ON_SUCCESS = True
# Every failure is a row (refused attempts during a lockout too, each restarting it).
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "emailconfig.views.account.locked_out"
AXES_CLIENT_IP_CALLABLE = "emailconfig.client_address.client_address"
OTP_TOTP_ISSUER = "Stagemail"
# The admin lists and removes users' authenticator apps without ever showing their keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# The session expires this long after the last request; each request saves it anew.
SESSION_COOKIE_AGE = STAGEMAIL_IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# `collectstatic` writes each file under a content-hashed name, gzip- and brotli-ready;
# with DEBUG off pages link those names, which whitenoise serves with a long cache.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS. Secure by default whenever DEBUG is off; each can be relaxed from the
# environment (for example behind a TLS-terminating proxy that already redirects).
_PRODUCTION = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=_PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=_PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=_PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=_PRODUCTION)
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every page, the admin's too, loads only the portal's own static files: no inline script
# or style, nothing from another origin. A message's HTML part is served with a policy of its
# own (emailconfig/views/framed.py).
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "frame-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
