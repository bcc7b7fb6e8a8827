"""Chorus settings: everything comes from the environment (12-factor).

Embedded default: SQLite (WAL) + in-memory channel layer + ingest inside the server process.
Scale-out: DATABASE_URL (PostgreSQL) + REDIS_URL (channels-redis) + INGEST_IN_PROCESS=false.
Every variable is listed in docs/configuration.md.
"""

import os
import secrets
import sys
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# Under pytest: no in-process ingest (tests start what they need), throwaway data dir.
TESTING = "pytest" in sys.modules
if TESTING:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("INGEST_IN_PROCESS", "false")
    os.environ.setdefault("CHORUS_DATA_DIR", tempfile.mkdtemp(prefix="chorus-test-"))
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env("CHORUS_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _generated_secret(name: str, factory) -> str:
    """A secret generated once per data directory (never a fixed default).

    Only used when the variable is not set AND DEBUG is on; production must set it.
    """
    path = DATA_DIR / f".{name.lower()}"
    if path.exists():
        return path.read_text().strip()
    value = factory()
    path.write_text(value)
    path.chmod(0o600)
    return value


def _secret(name: str, factory) -> str:
    value = env(name, default="")
    if value:
        return value
    if DEBUG:
        return _generated_secret(name, factory)
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see docs/configuration.md)")


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = _secret("SECRET_KEY", lambda: secrets.token_urlsafe(64))
# Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
CHORUS_ENCRYPTION_KEYS = [
    k.strip() for k in _secret("CHORUS_ENCRYPTION_KEYS", _fernet_key).split(",") if k.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "ingest",
    "polls",
    "bots",
    "overlays",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pollsite.urls"
ASGI_APPLICATION = "pollsite.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'chorus.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers work while the pipeline writes; IMMEDIATE avoids lock upgrades.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": env("CHORUS_TEST_SQLITE", default="") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer ------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", default=100)
# Overlays (OBS browser sources): at most one frame per group per this many ms (coalesced).
OVERLAY_FRAME_INTERVAL_MS = env.int("OVERLAY_FRAME_INTERVAL_MS", default=100)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, exactly channels_redis'
                # BZPOPMIN block time: a socket idle for 5 s crashed its consumer. Keep a timeout
                # (a dead Redis is still noticed), but well above the 5 s block.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 30,
                        # redis-py refuses (not waits) past this; a crowd joining at once needs many.
                        "max_connections": env.int("CHANNEL_REDIS_MAX_CONNECTIONS", default=1000),
                    }
                ],
                "prefix": env("CHANNEL_PREFIX", default="chorus"),
                "capacity": CHANNEL_CAPACITY,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "ingest.layers.EmbeddedChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }

# Shared counters (polls/flag_guard.py): in Redis when there is one, so every server process of a
# scale-out deployment counts together; else this process's memory.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CHANNEL_PREFIX", default="chorus"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Ingest -------------------------------------------------------------------------------
INGEST_IN_PROCESS = env.bool("INGEST_IN_PROCESS", default=True)
INGEST_BATCH_SIZE = env.int("INGEST_BATCH_SIZE", default=500)
INGEST_FLUSH_MS = env.int("INGEST_FLUSH_MS", default=50)
INGEST_QUEUE_SIZE = env.int("INGEST_QUEUE_SIZE", default=20000)
INGEST_LEASE_SECONDS = env.float("INGEST_LEASE_SECONDS", default=10.0)
INGEST_SOURCE_SYNC_SECONDS = env.float("INGEST_SOURCE_SYNC_SECONDS", default=5.0)
INGEST_BACKOFF_INITIAL = env.float("INGEST_BACKOFF_INITIAL", default=1.0)
INGEST_BACKOFF_MAX = env.float("INGEST_BACKOFF_MAX", default=60.0)
# Callables that react to every stored batch (meetings, bots). "module.path:function".
CHORUS_PIPELINE_LISTENERS = env.list("CHORUS_PIPELINE_LISTENERS", default=["bots.triggers:on_batch", "bots.engine:on_batch", "polls.chat:on_batch", "overlays.live:on_batch"])
# Where the "replay" adapter may read recorded chat (JSONL); see ingest/adapters/replay.py.
CHORUS_REPLAY_DIR = Path(env("CHORUS_REPLAY_DIR", default=str(DATA_DIR / "replay")))

# --- Twitch (docs/configuration.md, docs/platforms/twitch.md) -------------------------------
TWITCH_IRC_URL = env("TWITCH_IRC_URL", default="wss://irc-ws.chat.twitch.tv:443")
TWITCH_EVENTSUB_WS_URL = env("TWITCH_EVENTSUB_WS_URL", default="wss://eventsub.wss.twitch.tv/ws")
TWITCH_API_URL = env("TWITCH_API_URL", default="https://api.twitch.tv/helix/")
TWITCH_AUTH_URL = env("TWITCH_AUTH_URL", default="https://id.twitch.tv/")
TWITCH_CLIENT_ID = env("TWITCH_CLIENT_ID", default="")
TWITCH_CLIENT_SECRET = env("TWITCH_CLIENT_SECRET", default="")
TWITCH_REDIRECT_URI = env("TWITCH_REDIRECT_URI", default="")
TWITCH_STREAM_POLL_SECONDS = env.float("TWITCH_STREAM_POLL_SECONDS", default=60.0)
# Emote images: {base}/{emote id}/default/dark/2.0 (Twitch's documented CDN form).
TWITCH_EMOTE_CDN = env("TWITCH_EMOTE_CDN", default="https://static-cdn.jtvnw.net/emoticons/v2/")

# --- YouTube (docs/configuration.md#youtube) --------------------------------------------
# Empty = Google's real endpoints; tests point them at a local fake.
YOUTUBE_API_URL = env("YOUTUBE_API_URL", default="")
GOOGLE_TOKEN_URL = env("GOOGLE_TOKEN_URL", default="https://oauth2.googleapis.com/token")
GOOGLE_AUTH_URL = env("GOOGLE_AUTH_URL", default="https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_CLIENT_ID = env("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env("GOOGLE_CLIENT_SECRET", default="")
GOOGLE_OAUTH_REDIRECT_URI = env("GOOGLE_OAUTH_REDIRECT_URI", default="")
YOUTUBE_API_KEY = env("YOUTUBE_API_KEY", default="")
YOUTUBE_DAILY_QUOTA = env.int("YOUTUBE_DAILY_QUOTA", default=10000)
YOUTUBE_QUOTA_RESERVE = env.int("YOUTUBE_QUOTA_RESERVE", default=500)
YOUTUBE_MIN_POLL_SECONDS = env.float("YOUTUBE_MIN_POLL_SECONDS", default=1.0)
YOUTUBE_EXPECTED_STREAM_HOURS = env.float("YOUTUBE_EXPECTED_STREAM_HOURS", default=4.0)
YOUTUBE_OFFLINE_CHECK_SECONDS = env.float("YOUTUBE_OFFLINE_CHECK_SECONDS", default=300.0)
YOUTUBE_METADATA_REFRESH_SECONDS = env.float("YOUTUBE_METADATA_REFRESH_SECONDS", default=300.0)
YOUTUBE_HTTP_TIMEOUT = env.float("YOUTUBE_HTTP_TIMEOUT", default=30.0)

# --- TikTok (TikTokLive; unofficial, needs a sign server) -----------------------------------
TIKTOK_SIGN_API_URL = env("TIKTOK_SIGN_API_URL", default="https://api.eulerstream.com")
TIKTOK_SIGN_API_KEY = env("TIKTOK_SIGN_API_KEY", default="")
TIKTOK_APP_URL = env("TIKTOK_APP_URL", default="https://www.tiktok.com")
TIKTOK_WEBCAST_URL = env("TIKTOK_WEBCAST_URL", default="https://webcast.tiktok.com/webcast")
TIKTOK_OFFLINE_CHECK_SECONDS = env.float("TIKTOK_OFFLINE_CHECK_SECONDS", default=30.0)
TIKTOK_OFFLINE_CHECK_MAX_SECONDS = env.float("TIKTOK_OFFLINE_CHECK_MAX_SECONDS", default=300.0)
TIKTOK_LIKE_FLUSH_SECONDS = env.float("TIKTOK_LIKE_FLUSH_SECONDS", default=10.0)

# --- Slack (slack-bolt: Socket Mode or the HTTP Events API; see docs/platforms/slack.md) -----
SLACK_API_URL = env("SLACK_API_URL", default="https://slack.com/api/")
SLACK_BOT_TOKEN = env("SLACK_BOT_TOKEN", default="")
SLACK_APP_TOKEN = env("SLACK_APP_TOKEN", default="")
SLACK_SIGNING_SECRET = env("SLACK_SIGNING_SECRET", default="")
SLACK_MODE = env("SLACK_MODE", default="socket")
SLACK_IMAGE_MAX_WIDTH = env.int("SLACK_IMAGE_MAX_WIDTH", default=1200)
SLACK_USER_CACHE_SECONDS = env.float("SLACK_USER_CACHE_SECONDS", default=86400.0)
SLACK_SEND_INTERVAL_SECONDS = env.float("SLACK_SEND_INTERVAL_SECONDS", default=1.0)

# Public base URL of this server (bots post join links, QR codes point at it).
CHORUS_PUBLIC_URL = env("CHORUS_PUBLIC_URL", default="http://127.0.0.1:8000")

# --- Bots and OBS ----------------------------------------------------------------------------
BOT_MESSAGE_MARKER = env("BOT_MESSAGE_MARKER", default="🤖 ")
OBS_BACKOFF_INITIAL = env.float("OBS_BACKOFF_INITIAL", default=1.0)
OBS_BACKOFF_MAX = env.float("OBS_BACKOFF_MAX", default=30.0)
OBS_CONNECT_WAIT = env.float("OBS_CONNECT_WAIT", default=5.0)
OBS_GLOBAL_DEBOUNCE = env.float("OBS_GLOBAL_DEBOUNCE", default=2.0)
BOT_ALERT_MAX_BYTES = env.int("BOT_ALERT_MAX_BYTES", default=50 * 1024 * 1024)

# --- Websockets ---------------------------------------------------------------------------
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=16 * 1024)
WS_RATE_PER_SECOND = env.float("WS_RATE_PER_SECOND", default=20.0)
WS_RATE_BURST = env.int("WS_RATE_BURST", default=40)

# --- Server process (ingest/runtime.py tune_process, at ASGI lifespan startup) ------------
# "gen0,gen1,gen2" thresholds of Python's garbage collector, after gc.freeze() of everything
# loaded at startup; empty = Python's defaults (700,10,10), which ran 200-300 ms full
# collections in the middle of a 2,000-voter storm.
GC_THRESHOLDS = env.str("GC_THRESHOLDS", default="10000,50,100")
# sys.setswitchinterval: how long the event loop may keep the GIL when the database thread
# wants it (Python's default is 0.005 s: each query of a vote batch then waited up to 5 ms).
GIL_SWITCH_INTERVAL = env.float("GIL_SWITCH_INTERVAL", default=0.0005)

# Wrong flag codes per client address (IP) and meeting within FLAG_ADDRESS_WINDOW seconds, over
# all the participants joined from it (each participant also has 5 per minute of its own). A room
# behind one NAT shares an address: keep it well above what a room tries. 0 = no address limit.
FLAG_ATTEMPTS_PER_ADDRESS = env.int("FLAG_ATTEMPTS_PER_ADDRESS", default=60)
FLAG_ADDRESS_WINDOW = env.int("FLAG_ADDRESS_WINDOW", default=60)

# --- HTTP API -----------------------------------------------------------------------------
# Cache-Control max-age (seconds) of the public JSON feeds (/api/<identifier>).
PUBLIC_FEED_MAX_AGE = env.int("PUBLIC_FEED_MAX_AGE", default=5)

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Production safety (python manage.py check --deploy is clean with DEBUG off) -----------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # obsws-python logs the OBS password at INFO.
        "obsws_python": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}
