"""Configuration from the environment, with working defaults for a development checkout."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_database_url() -> str | None:
    """DATABASE_URL, else the private cluster that `scripts/db.sh start` wrote down."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    written = ROOT / "var" / "database_url"
    return written.read_text().strip() if written.exists() else None


# `make run` writes a random secret here once (mode 0600) and every later start reuses it
SECRET_FILE = Path(os.environ.get("CARTAGORA_SECRET_FILE", ROOT / "var" / "secret_key"))
MIN_SECRET_LENGTH = 32


def configured_secret() -> str | None:
    """SECRET_KEY from the environment, else the file `make run` wrote; never a default."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip() or None
    return None


def write_secret(path: Path = SECRET_FILE) -> bool:
    """Create the secret file (64 random bytes, hex, mode 0600) unless it exists."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(64) + "\n")
    return True


def default_ratelimit_storage() -> str | None:
    """The rate limits' shared store: REDIS_URL, else the private Redis `make run` started."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    written = ROOT / "var" / "redis_url"
    return written.read_text().strip() if written.exists() else None


def link_settings(config) -> tuple[str, int, int]:
    """(public URL, verification link hours, reset link hours) of a configuration: what
    e-mailed links are built from, for the API and the pages alike."""
    return config["PUBLIC_URL"], config["VERIFY_EMAIL_TTL_HOURS"], config["RESET_PASSWORD_TTL_HOURS"]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


class Config:
    SECRET_KEY = configured_secret()
    # behind HTTPS (a reverse proxy terminating TLS): Secure cookies, HSTS, https URLs
    HTTPS = env_flag("CARTAGORA_HTTPS")
    # trusted reverse proxies in front of the app (X-Forwarded-For/-Proto), 0 = none
    PROXY_COUNT = int(os.environ.get("CARTAGORA_PROXY_COUNT", "0"))
    DATABASE_URL = default_database_url()
    # Beyond one machine (README, "Deploying"; app/db.py). A streaming replica the read-only
    # views of anonymous requests read from, while it answers and is at most MAX_LAG_S behind
    # (each worker asks it every CHECK_S); a browser reads from the primary for MAX_LAG_S +
    # CHECK_S after each of its writes, and requests with credentials always do.
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL") or None
    DATABASE_REPLICA_MAX_LAG_S = float(os.environ.get("CARTAGORA_REPLICA_MAX_LAG_S", "5"))
    DATABASE_REPLICA_CHECK_S = float(os.environ.get("CARTAGORA_REPLICA_CHECK_S", "1"))
    # "pgbouncer" when DATABASE_URL (and the replica's) is a PgBouncer in transaction pooling:
    # no startup options, no prepared statements, the connection defaults from its connect_query
    DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "").strip().lower() or None
    MEDIA_DIR = Path(os.environ.get("CARTAGORA_MEDIA_DIR", ROOT / "var" / "media"))
    # Bulk open data: `flask opendata export` (make opendata, nightly) writes here; /open-data/ serves it
    OPEN_DATA_DIR = Path(os.environ.get("CARTAGORA_OPEN_DATA_DIR", ROOT / "var" / "open-data"))
    PHOTO_MAX_BYTES = 10 * 1024 * 1024
    PHOTOS_PER_CONTRIBUTION = 5
    # five photos of 10 MB plus the form fields
    MAX_CONTENT_LENGTH = 5 * PHOTO_MAX_BYTES + 1024 * 1024
    # rate limits (app.ratelimit): counted in Redis, shared by every worker
    RATELIMIT_STORAGE_URI = default_ratelimit_storage()
    RATELIMIT_ENABLED = os.environ.get("CARTAGORA_RATELIMIT", "1") != "0"
    # bearer tokens and signed-in browser sessions end after this many hours (7 days)
    TOKEN_TTL_HOURS = int(os.environ.get("CARTAGORA_TOKEN_TTL_HOURS", str(7 * 24)))
    # notifications: SMTP when MAIL_SERVER is set, else an mbox file for development
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = env_flag("MAIL_USE_TLS")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Cartagora <no-reply@cartagora.localhost>")
    MAILBOX_PATH = Path(os.environ.get("CARTAGORA_MAILBOX", ROOT / "var" / "mail" / "outbox.mbox"))
    LANGUAGES = ("fr", "en")
    JSON_SORT_KEYS = False
    # The address people reach Cartagora at: links in e-mails (verification, password reset)
    # are built from it, never from the request's Host header (which anyone can forge).
    PUBLIC_URL = os.environ.get("CARTAGORA_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    # where people report an accessibility barrier (the accessibility statement's contact)
    ACCESSIBILITY_CONTACT = os.environ.get("CARTAGORA_ACCESSIBILITY_CONTACT", "")
    # single-use links sent by e-mail, hours
    VERIFY_EMAIL_TTL_HOURS = int(os.environ.get("CARTAGORA_VERIFY_EMAIL_TTL_HOURS", "72"))
    RESET_PASSWORD_TTL_HOURS = int(os.environ.get("CARTAGORA_RESET_PASSWORD_TTL_HOURS", "1"))
    # moderation: an item is hidden until reviewed when this many people flagged it
    MODERATION_HIDE_AT = int(os.environ.get("CARTAGORA_MODERATION_HIDE_AT", "3"))
    # Sign-in with an OpenID Connect provider (the city's "compte unique"): off unless an
    # issuer is set. Its discovery document is read from <issuer>/.well-known/openid-configuration.
    OIDC_ISSUER = os.environ.get("CARTAGORA_OIDC_ISSUER", "").rstrip("/")
    OIDC_CLIENT_ID = os.environ.get("CARTAGORA_OIDC_CLIENT_ID", "")
    OIDC_CLIENT_SECRET = os.environ.get("CARTAGORA_OIDC_CLIENT_SECRET", "")
    OIDC_LABEL = os.environ.get("CARTAGORA_OIDC_LABEL", "compte Paris")  # "Sign in with …"

    # Basemap: any XYZ raster tile URL; the map keeps working on our own layers without it.
    TILE_URL = os.environ.get("CARTAGORA_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    TILE_ATTRIBUTION = os.environ.get(
        "CARTAGORA_TILE_ATTRIBUTION",
        '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
    )
    TILE_MAX_ZOOM = int(os.environ.get("CARTAGORA_TILE_MAX_ZOOM", "19"))
    # Pages: French first, English by choice; dates shown in Paris time.
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE = HTTPS
    PREFERRED_URL_SCHEME = "https" if HTTPS else "http"

    # Bounded cost: every statement of a request runs under the statement timeout of its class
    # (milliseconds, 0 = none); one cancelled is a 503 `statement_timeout` (app/db.py,
    # app/errors.py). A view's class is declared (`operation(cost=…)`, `@db.cost(…)`), else `read`
    # for GET and HEAD, `write` for other methods; without a request (CLI, imports) `cli`.
    # `read` is every connection's default (no round trip on the hot path); the others cost one
    # SET LOCAL per transaction. Env: CARTAGORA_STATEMENT_TIMEOUT_<CLASS>_MS.
    STATEMENT_TIMEOUT_MS = {
        cls: int(os.environ.get(f"CARTAGORA_STATEMENT_TIMEOUT_{cls.upper()}_MS", ms))
        # read: 3× the slowest public read on 1M reports (the whole city's map clusters, 0.7 s;
        # a bbox page takes 3 ms); stats: aggregates and DBSCAN over the facts (hotspots 0.7 s,
        # resolution 0.5 s); write: room for a batch transition of 500 reports and its triggers
        for cls, ms in (("read", 2000), ("write", 5000), ("stats", 10000), ("cli", 0))
    }
