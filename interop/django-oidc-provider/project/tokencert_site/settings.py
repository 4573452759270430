"""A minimal Django project around django-oidc-provider, as its documentation sets one up:
the app installed, its URLs under /openid/, Django's own login view as LOGIN_URL.
Runtime state (database, secret key) lives in $INTEROP_STATE_DIR, never in the repository."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ["INTEROP_STATE_DIR"])
SECRET_KEY = (STATE_DIR / "django-secret-key").read_text().strip()
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
PORT = os.environ.get("INTEROP_PORT", "18402")
SITE_URL = f"http://127.0.0.1:{PORT}"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oidc_provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tokencert_site.urls"
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
            ]
        },
    }
]
# SQLite keeps the lab dependency-free. Its default deferred transactions fail at once with
# "database is locked" when two requests upgrade a read to a write (the token endpoint reads the
# refresh token, then writes); Django's documented remedy is IMMEDIATE transactions plus a busy
# timeout, so concurrent cells wait instead of turning into 500s that say nothing about the
# provider.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": STATE_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
LOGIN_URL = "/accounts/login/"

# django-oidc-provider settings, all at their documented defaults except where noted.
# Lifetimes shorter than the defaults (3600 s, 600 s), so that tokencert's expiry scenarios
# (an expired access token, an expired code) wait them out in real time, inside --max-wait
# (120 s); every cell uses its tokens within seconds of getting them.
OIDC_TOKEN_EXPIRE = 60              # access tokens; there is no refresh-token lifetime
OIDC_CODE_EXPIRE = 30
OIDC_INTROSPECTION_RESPONSE_SCOPE_ENABLE = True   # so introspection answers carry `scope`
LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
