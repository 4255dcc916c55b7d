"""Django settings of the distributor service; the values come from ``config``.

SQLite in the data directory by default, so ``copgate dist migrate`` and
``copgate dist run`` need nothing more; PostgreSQL when COPGATE_DATABASE_URL
says so (several instances on one database). The secret key is never written
here: it comes from the environment or a file (``copgate dist migrate`` makes a random one).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from copgate.distributor.config import read_config, secret_key

CONFIG = read_config(os.environ)
BASE_DIR = Path(__file__).resolve().parent

_KEY = secret_key(CONFIG)
# Without a configured key (before 'copgate dist migrate' made one), a random
# key of this process only: management commands and type checks work, and
# 'copgate dist run' refuses to serve (sessions would not survive a restart).
SECRET_KEY = _KEY or os.urandom(48).hex()
COPGATE_EPHEMERAL_KEY = _KEY is None
DEBUG = CONFIG.debug
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_origins)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "copgate.distributor.curation",
    "copgate.distributor.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "copgate.distributor.urls"
WSGI_APPLICATION = "copgate.distributor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "copgate.distributor.curation.context.roles",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A database cache: rate limits hold across the instances behind one proxy.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "copgate_cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "curation" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "static/"
MEDIA_ROOT = CONFIG.data_dir / "uploads"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "curation:home"
LOGOUT_REDIRECT_URL = "curation:home"

# Behind a reverse proxy that terminates TLS: trust its X-Forwarded-Proto and
# X-Forwarded-Host, send cookies over HTTPS only, and keep browsers on HTTPS
# ('django check --deploy' is then clean: HSTS for subdomains and the preload
# list are the domain owner's decision, not this service's, hence silenced).
if CONFIG.behind_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True  # a request the proxy got over plain HTTP goes to HTTPS
    SECURE_HSTS_SECONDS = 365 * 24 * 3600  # this host only: no includeSubDomains, no preload
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

COPGATE_TREE_DIR = CONFIG.tree_dir
COPGATE_SIGNING_KEY = CONFIG.signing_key
COPGATE_DATA_DIR = CONFIG.data_dir
