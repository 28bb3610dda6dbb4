"""Settings for the test suite: the real settings in development mode, plus speed-ups."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests enqueue nowhere unless a test starts a real worker (see tests/conftest.py `celery_worker`).
CELERY_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# SQLite: a file-backed test database (not the shared-cache in-memory default, which answers concurrent writers
# with "table is locked") so threads — the live server, in-thread Celery workers — see the same data; IMMEDIATE
# transactions make concurrent writers wait their turn instead of failing with "database is locked".
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    import tempfile
    from pathlib import Path

    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(  # noqa: F405
        Path(tempfile.gettempdir()) / f"portal-test-{os.getpid()}.sqlite3"
    )
