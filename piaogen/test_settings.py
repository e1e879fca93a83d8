"""Settings of the test suite: the same as production's but for speed and isolation.

The database and broker still come from the environment, so `.ci/run` runs the suite on
PostgreSQL and Redis and a laptop on SQLite.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("PIAOGEN_VAR_DIR", os.path.join(tempfile.gettempdir(), f"piaogen-test-{os.getpid()}"))

from .settings import *  # noqa: E402,F403
from .settings import VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SMS_BACKEND = "accounts.sms.FileBackend"
SMS_FILE_PATH = str(VAR_DIR / "sms.jsonl")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run tasks inline; the real-worker tests turn this off for themselves and for
# the worker processes they start.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
CELERY_TASK_EAGER_PROPAGATES = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory, so that worker processes can open the test database too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
STORAGES["default"]["OPTIONS"]["location"] = str(VAR_DIR / "media")  # noqa: F405
STORAGES["documents"]["OPTIONS"] = {"location": str(VAR_DIR / "media")}  # noqa: F405
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
# The test client speaks plain http; the HTTPS settings themselves are tested with
# `check --deploy` and production-like environments (tests/reliability/test_deployment.py).
SECURE_SSL_REDIRECT = False
STAFF_2FA_REQUIRED = env.bool("STAFF_2FA_REQUIRED", default=False)  # noqa: F405
