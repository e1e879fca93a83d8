"""Settings, driven by environment variables (django-environ).

With no environment at all the project runs on embedded defaults: SQLite in
``var/db.sqlite3`` and a Celery broker on kombu's filesystem transport in
``var/broker/``. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` / ``REDIS_URL`` switch
to PostgreSQL and Redis.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PIAOGEN_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# A file of variables is read only when PIAOGEN_ENV_FILE names it (`make run` names ./.env when
# there is one, and the processes it starts inherit that): the test suite and a server started
# without it see their environment and nothing else. Variables already set win over the file's.
if env_file := env.str("PIAOGEN_ENV_FILE", default=""):
    if not Path(env_file).is_file():
        raise ImproperlyConfigured(f"PIAOGEN_ENV_FILE names {env_file}, which is not a file.")
    env.read_env(env_file)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (it also derives the field-encryption keys)."
        )
    # A laptop with DEBUG on: one random key per checkout, kept in var/ so that
    # sessions and encrypted fields survive a restart.
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Salt for the field-encryption key derivation (django-fernet-encrypted-fields).
SALT_KEY = env.list("FIELD_ENCRYPTION_SALT", default=["piaogen-field-encryption"])
# Key of the keyed hashes (HMAC) kept beside encrypted ID numbers and mobiles for matching.
LOOKUP_HASH_KEY = env.str("LOOKUP_HASH_KEY", default="") or SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin as the contact centre's console, which asks staff for a second factor
    # (django-otp below; STAFF_2FA_REQUIRED).
    "piaogen.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "piaogen",
    "accounts",
    "cards",
    "invoices",
    "support",
    # The console's TOTP devices (`manage.py staff_totp_enrol`).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the policy header built once rather than per answer (CONTENT_SECURITY_POLICY).
    "piaogen.middleware.CSPMiddleware",
    # A GET of an API view with a lean handler (public verification) is answered here, past the
    # middleware below that has nothing to do for it (piaogen/middleware.py says what it keeps).
    "piaogen.middleware.LeanGetMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A NUL character anywhere in a path, query or form is a 400 before any view (PostgreSQL
    # refuses NUL in text; JSON bodies: piaogen.parsers.StrictJSONParser).
    "piaogen.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The chosen language (cookie, then the account's), else zh-hans; never Accept-Language.
    "piaogen.i18n.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Innermost, so that it sees the view and lasts through the template's rendering.
    "piaogen.replica.ReplicaMiddleware",
]

ROOT_URLCONF = "piaogen.urls"
WSGI_APPLICATION = "piaogen.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "piaogen" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "piaogen.context_processors.site",
                # The header's badge shows the unread count of a signed-in user's message centre,
                # and a card unbound by its issuer or by staff is announced once (one query a page)…
                "support.context_processors.unread_notifications",
                # …and a customer is told about unread replies to their tickets on every page.
                "support.context_processors.notices",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if not DEBUG else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A streaming replica (PostgreSQL hot standby) for the reads that tolerate lag: piaogen/replica.py
# says which; docs/scaling.md how to set one up. Unset: every read on DATABASE_URL.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
REPLICA_APPS = env.list("REPLICA_APPS", default=["cards", "invoices", "support"])
# After a person's write, their reads stay on the primary until the replica has replayed it, for
# at most this long (then the pin is forgotten: a replica this far behind is out of service).
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=600)
# A replica that did not answer is left alone this long before it is asked again.
REPLICA_RETRY_SECONDS = env.int("REPLICA_RETRY_SECONDS", default=5)
# Monthly partitions of trips, segments, invoices and lines on PostgreSQL (invoices/partitions.py): a new
# database gets them at `migrate`; the daily task keeps partitions ready from this many months
# back to this many ahead. PARTITION_ON_MIGRATE=0 keeps plain tables (to move them online later).
PARTITION_ON_MIGRATE = env.bool("PARTITION_ON_MIGRATE", default=True)
PARTITION_MONTHS_BEHIND = env.int("PARTITION_MONTHS_BEHIND", default=2)
PARTITION_MONTHS_AHEAD = env.int("PARTITION_MONTHS_AHEAD", default=3)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # A stopped replica must not hold a request for long: the read falls back to the primary.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    DATABASE_ROUTERS = ["piaogen.replica.ReplicaRouter"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL lets the web server and the worker read while one of them writes.
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Django's own, worded in the project's catalogue: Django 5.2 changed this message and its
    # zh_Hans catalogue lags behind, so zh-hans pages showed it in English.
    {"NAME": "accounts.validators.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.LettersAndDigitsValidator"},
]

LANGUAGE_CODE = "zh-hans"
# Each language named in itself (the footer's switch); msgids are zh-hans, English is
# locale/en (`make messages`, docs/i18n.md).
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = str(Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    # Invoices' PDFs and XML and the summary sheets, written and read only through this storage
    # (invoices/documents/storage.py). By default files under MEDIA_ROOT; for S3-compatible
    # object storage (django-storages, docs/scaling.md) e.g.
    # DOCUMENTS_BACKEND=storages.backends.s3.S3Storage
    # DOCUMENTS_OPTIONS='{"bucket_name": "piaogen-documents", "endpoint_url": "https://…", "default_acl": "private"}'
    "documents": {
        "BACKEND": env.str("DOCUMENTS_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("DOCUMENTS_OPTIONS", default={"location": MEDIA_ROOT}),
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Downloads of documents: 0 streams the file from the documents storage through the site; N > 0
# answers with a redirect to a URL of the storage valid for N seconds, where the backend makes
# such URLs (S3's presigned URLs); a backend that does not is streamed all the same.
DOCUMENTS_REDIRECT_SECONDS = env.int("DOCUMENTS_REDIRECT_SECONDS", default=0)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Cache: Redis when there is one, otherwise a file cache shared by the web
# server and the worker processes of `make run`.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

SESSION_COOKIE_HTTPONLY = True
# With DEBUG off the site is served over HTTPS only (docs/reliability.md): secure cookies, a
# redirect from http, HSTS. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER to the
# header it sets (e.g. HTTP_X_FORWARDED_PROTO); /healthz stays reachable over plain http.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env.str("SECURE_PROXY_SSL_HEADER"), "https")

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
# `filesystem://` and `redis://` name the project's own transport classes (piaogen/broker.py,
# registered in piaogen/celery.py): a message is renamed into the queue whole, never read
# half-written, and one that cannot be decoded is set aside instead of stopping the worker.
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "tmp_folder": str(BROKER_DIR / "tmp"),
        "claim_folder": str(BROKER_DIR / "claimed"),
        "set_aside_folder": str(BROKER_DIR / "set-aside"),
        "store_processed": False,
        # kombu's virtual transports sleep this long whenever they find nothing to take, which
        # includes every time the worker's pool is full (1 s by default: about 12 tasks a second
        # under load); a listing of the queue folder costs well under a millisecond.
        "polling_interval": env.float("CELERY_POLLING_INTERVAL", default=0.02),
    }
else:
    # Longer than any task and any countdown: a task that outlives it is delivered again.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600)}
CELERY_WORKER_CONSUMER = "piaogen.broker:Consumer"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Celery's Django fix-up closes every database connection before and after each task unless this
# is set, whatever CONN_MAX_AGE says: each task then paid a new PostgreSQL connection (a backend
# started, its caches cold). Set, the fix-up only recycles them every this many tasks, and the
# worker treats a task as Django treats a request instead (piaogen/celery.py): a connection is kept
# while CONN_MAX_AGE allows and is healthy (CONN_HEALTH_CHECKS), closed otherwise.
CELERY_DB_REUSE_MAX = 1000
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker deletes a message when a worker takes it (no redelivery to protect,
    # so acks_late buys nothing there): a few in hand per pool process keep the pool busy instead
    # of sleeping a polling interval after every task. A killed worker's are queued again from
    # the database (worker start-up hook, sweeps).
    CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_DEFAULT_QUEUE = "default"
# Rendering and mail on their own queues, so a slow PDF never delays issuing.
CELERY_TASK_ROUTES = {
    "invoices.tasks.render_*": {"queue": "render"},
    "invoices.tasks.deliver_*": {"queue": "mail"},
    # SMS on a queue of their own: 5,000 unbinding notices never delay issuing.
    "accounts.tasks.sms_*": {"queue": "sms"},
}
# Every task has a time limit: this default, stricter ones on the tasks themselves (issuing 120 s,
# rendering 60 s, SMS 20 s). The soft limit raises SoftTimeLimitExceeded in the task, the hard
# one replaces the pool process. Retry pauses use Celery's own back-off options
# (retry_backoff, retry_backoff_max, retry_jitter) on each task.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE: dict = {
    # The outbox sweep: applications the broker lost are queued again.
    "sweep-applications": {"task": "invoices.tasks.sweep_applications", "schedule": 60.0},
    # Documents and mail whose tasks the broker lost are queued again.
    "sweep-documents": {"task": "invoices.tasks.sweep_documents", "schedule": 300.0},
    # SMS whose tasks were lost are queued again; codes that expired unsent are ended.
    "sweep-sms": {"task": "accounts.tasks.sweep_sms", "schedule": 60.0},
    # Monthly partitions ready ahead and the default partitions drained (PostgreSQL; a no-op
    # elsewhere). Hourly, so that a missed day never leaves a month without its partition.
    "maintain-partitions": {"task": "invoices.tasks.maintain_partitions", "schedule": 3600.0},
    # 自动开票: card-months that became available (or were missed) are applied for, once each.
    "auto-invoice": {"task": "invoices.tasks.run_auto_invoices", "schedule": 3600.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- REST framework and the OpenAPI schema -----------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser refusing a NUL character anywhere in the body (as RejectNulMiddleware does
    # in paths, queries and forms).
    "DEFAULT_PARSER_CLASSES": ["piaogen.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "piaogen.api.exception_handler",
    # X-Forwarded-For is believed only from TRUSTED_PROXIES, by piaogen.addresses, never by DRF.
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "partner_burst": env.str("THROTTLE_PARTNER_BURST", default="120/min"),
        "partner_sustained": env.str("THROTTLE_PARTNER_SUSTAINED", default="20000/day"),
        "app": env.str("THROTTLE_APP", default="600/min"),
        "anon_auth": env.str("THROTTLE_ANON_AUTH", default="60/min"),
        # Public invoice verification per client address (the per-invoice daily limit is in the database).
        "verify": env.str("THROTTLE_VERIFY", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "票根 Piaogen API",
    "DESCRIPTION": "全国收费公路通行费电子发票服务平台：合作方接口与 App 接口。金额单位为分。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI served from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        # personal | enterprise: the type of an account and the kind of an invoice title
        "AccountTypeEnum": "accounts.models.User.AccountType",
        "CardStatusEnum": "cards.models.Card.Status",
        # what the App applies for (consumption | recharge) and the tax kind of an invoice
        "ApplyKindEnum": ["consumption", "recharge"],
        "InvoiceKindEnum": ["taxable", "non_taxable"],
        "TicketStatusEnum": "support.models.Ticket.Status",
    },
    # Swagger UI's validator badge would load an image from another origin (refused by the policy).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "piaogen.schema.document_common_errors",
    ],
}

# --- SMS ---------------------------------------------------------------------
_SMS_BACKENDS = {
    "console": "accounts.sms.ConsoleBackend",
    "file": "accounts.sms.FileBackend",
    "gateway": "accounts.sms.GatewayBackend",
}
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_BACKEND = _SMS_BACKENDS.get(SMS_BACKEND, SMS_BACKEND)
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(VAR_DIR / "sms.jsonl"))
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_CODE_TTL_SECONDS = env.int("SMS_CODE_TTL_SECONDS", default=300)
SMS_CODE_MAX_TRIES = env.int("SMS_CODE_MAX_TRIES", default=5)
SMS_RESEND_SECONDS = env.int("SMS_RESEND_SECONDS", default=60)
SMS_DAILY_CAP = env.int("SMS_DAILY_CAP", default=10)
# Codes to one number a day from all clients together (each client: SMS_DAILY_CAP).
SMS_DAILY_CEILING = env.int("SMS_DAILY_CEILING", default=30)
# An App token unused this many days stops working (the user logs in again).
APP_TOKEN_IDLE_DAYS = env.int("APP_TOKEN_IDLE_DAYS", default=30)
# Codes requested from one client address (to any numbers) in a window, and sent by the whole
# platform a minute: one client cannot spend the SMS budget on thousands of numbers. Generous
# per address, because mobile networks put many users behind one address.
SMS_MAX_PER_ADDRESS = env.int("SMS_MAX_PER_ADDRESS", default=20)
SMS_ADDRESS_WINDOW_SECONDS = env.int("SMS_ADDRESS_WINDOW_SECONDS", default=600)
SMS_MAX_PER_MINUTE = env.int("SMS_MAX_PER_MINUTE", default=3000)

# --- E-mail --------------------------------------------------------------------
# Files by default: one file a mail under EMAIL_FILE_PATH. The console backend would print every
# mail, invoice ZIPs in base64 included, into the output where `make run` shows the SMS codes.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="票根（演示） <noreply@piaogen.invalid>")

# --- The domain ----------------------------------------------------------------
TRANSIT_AVAILABLE_AFTER_DAYS = env.int("TRANSIT_AVAILABLE_AFTER_DAYS", default=10)  # 2018 regime
# The regimes of toll documents (invoices/regimes.py, docs/regimes.md). Neither switch date is
# confirmed by a source the project holds: these are documented defaults, decided by travel date.
TOLL_REGIME_2020_FROM = env.str("TOLL_REGIME_2020_FROM", default="2020-01-01")
TOLL_REGIME_DIGITAL_FROM = env.str("TOLL_REGIME_DIGITAL_FROM", default="2025-01-01")
TRANSIT_AVAILABLE_AFTER_DAYS_2020 = env.int("TRANSIT_AVAILABLE_AFTER_DAYS_2020", default=7)
# The 1-digit issuing channel in a 数电 invoice number (year 2 + region 2 + channel 1 + 15).
DIGITAL_INVOICE_CHANNEL = env.str("DIGITAL_INVOICE_CHANNEL", default="1")
INVOICE_NUMBERS_PER_BATCH = env.int("INVOICE_NUMBERS_PER_BATCH", default=99999999)
# The platform's hotline as shown on pages; the shipped value is labelled demo.
SUPPORT_HOTLINE = env.str("SUPPORT_HOTLINE", default="95022")
PARTNER_BATCH_LIMIT = 5000
# The proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed for the
# client's address that every per-address limit counts by. None by default: the header is ignored
# and the connection's address counts (piaogen/addresses.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Largest body a partner write may send. 5,000 trips of 6 segments are about 2.7 MiB, of 20
# segments about 6 MiB: Django's 2.5 MiB default (DATA_UPLOAD_MAX_MEMORY_SIZE, which still holds
# for every other request) would refuse full batches. A larger body is answered 413 naming it.
PARTNER_MAX_BODY_BYTES = env.int("PARTNER_MAX_BODY_BYTES", default=16 * 1024 * 1024)
# Failed binding attempts allowed a day (Asia/Shanghai) per account and per (client address,
# card); binding must never become an oracle for guessing someone's ID number or mobile. Past
# the per-card ceiling (all clients together) the card is not refused: the reserved mobile must
# prove the SMS code before the ID is compared (cards/services/binding.py).
BINDING_MAX_FAILURES_PER_ACCOUNT = env.int("BINDING_MAX_FAILURES_PER_ACCOUNT", default=5)
BINDING_MAX_FAILURES_PER_CLIENT_CARD = env.int("BINDING_MAX_FAILURES_PER_CLIENT_CARD", default=5)
BINDING_MAX_FAILURES_PER_CARD = env.int("BINDING_MAX_FAILURES_PER_CARD", default=20)
# The holder name (开户人名称, 2020 toll e-bill rules) is always asked on the page 绑定ETC卡; the
# App API compares it when sent, and refuses a binding without it only when this is on, so that
# App versions that do not send it yet keep binding.
BINDING_HOLDER_NAME_REQUIRED = env.bool("BINDING_HOLDER_NAME_REQUIRED", default=False)
# 我的ETC卡 shows this many cards a page (newest bound first), with a search past one page.
CARDS_PAGE_SIZE = env.int("CARDS_PAGE_SIZE", default=20)
INVOICE_TRIP_VIEW_LINES = env.int("INVOICE_TRIP_VIEW_LINES", default=200)
# Runs of one application's issuing (first, retries after a database error, runs again after a
# worker died under it) before it is given up and failed with its trips released. Above the
# issuing task's 8 retries, so that those end as they always did.
ISSUE_MAX_ATTEMPTS = env.int("ISSUE_MAX_ATTEMPTS", default=12)
# Public verification (查验), per Asia/Shanghai day: checks of one invoice by one client (its
# address, or the invoice's owner signed in), and by everyone together: a ceiling well above
# the first, so that strangers' wrong checks cannot stop the holder's (invoices/verification.py).
VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE = env.int("VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE", default=5)
VERIFY_MAX_CHECKS_PER_INVOICE = env.int("VERIFY_MAX_CHECKS_PER_INVOICE", default=50)
# Times a day (Asia/Shanghai) a user may have an application's ZIP mailed again to an address they choose.
MAIL_RESENDS_PER_DAY = env.int("MAIL_RESENDS_PER_DAY", default=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "piaogen.masking.MaskingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_pii"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint logs every step of every document at INFO; its warnings and errors are enough.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Demo mode labels every page and the console as showing demo data. Production sets it off.
DEMO_MODE = env.bool("DEMO_MODE", default=True)

# --- Reliability and security (docs/reliability.md) ------------------------------------------
# The console (admin) asks staff for a second factor: TOTP devices of django-otp (INSTALLED_APPS,
# MIDDLEWARE), enrolled with `manage.py staff_totp_enrol`. Required for every staff login when
# STAFF_2FA_REQUIRED is on (the default with DEBUG off); with it off, only staff who enrolled a
# device give its code.
STAFF_2FA_REQUIRED = env.bool("STAFF_2FA_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = "票根控制台"
# Failed logins (pages, App, console alike) allowed per account and per client address in a
# window; then 429 with Retry-After until the window ends. Counted in the cache (Redis).
# Failed password logins: per client address and account (a stranger locks only himself out of
# someone's account), per account from all addresses (guessing spread over many), per address
# (one client trying many accounts). Logging in by SMS code, a proved channel, is not held by
# the first two: the owner of a number under attack still gets in.
LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT = env.int("LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT", default=10)
LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int("LOGIN_MAX_FAILURES_PER_ACCOUNT", default=50)
LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("LOGIN_MAX_FAILURES_PER_ADDRESS", default=50)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
# Content security policy (django-csp): no inline scripts, nothing from other origins. Inline
# styles stay allowed for the console's bar charts and Swagger UI's stylesheet.
# piaogen.middleware.CSPMiddleware (MIDDLEWARE) is django-csp's, with the policy header built
# once rather than per answer.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# A publish gives up within a second when the broker is unreachable (then the outbox sweep
# queues the work): a submit must not hang on a broker outage.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# A NUL character anywhere in a request is a 400 before any view (PostgreSQL refuses NUL in text):
# paths, queries and forms in a middleware (MIDDLEWARE), JSON bodies in the API's parser
# (REST_FRAMEWORK).
# Error reports (the debug page, mails to ADMINS) pass through the same masking as logs.
DEFAULT_EXCEPTION_REPORTER = "piaogen.masking.MaskingExceptionReporter"
