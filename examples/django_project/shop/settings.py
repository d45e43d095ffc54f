"""Settings of the example shop. The database: PostgreSQL when $SHOP_PG_NAME is set
(with $SHOP_PG_HOST, $SHOP_PG_PORT, $SHOP_PG_USER), else SQLite at $SHOP_SQLITE
(default db.sqlite3 here). conveyor shares it (no CONVEYOR["URL"] needed)."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("SHOP_SECRET_KEY", "example-only-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "conveyor.contrib.django",
    "orders",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "shop.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

if os.environ.get("SHOP_PG_NAME"):
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["SHOP_PG_NAME"],
        "HOST": os.environ.get("SHOP_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("SHOP_PG_PORT", "5432"),
        "USER": os.environ.get("SHOP_PG_USER", "postgres"),
    }}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_SQLITE", BASE_DIR / "db.sqlite3"),
    }}

# Optional: CONVEYOR = {"URL": "postgresql://...", "APP": "module:attr"}
CONVEYOR = {"OPTIONS": {"lease": 30}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
