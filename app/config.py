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


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    DATABASE_URL = default_database_url()
    MEDIA_DIR = Path(os.environ.get("CARTAGORA_MEDIA_DIR", ROOT / "var" / "media"))
    PHOTO_MAX_BYTES = 10 * 1024 * 1024
    PHOTOS_PER_CONTRIBUTION = 5
    # five photos of 10 MB plus the form fields
    MAX_CONTENT_LENGTH = 5 * PHOTO_MAX_BYTES + 1024 * 1024
    TOKEN_TTL_DAYS = int(os.environ.get("CARTAGORA_TOKEN_TTL_DAYS", "30"))
    # notifications: SMTP when MAIL_SERVER is set, else an mbox file for development
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") in ("1", "true", "yes")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "Cartagora <no-reply@cartagora.localhost>")
    MAILBOX_PATH = Path(os.environ.get("CARTAGORA_MAILBOX", ROOT / "var" / "mail" / "outbox.mbox"))
    LANGUAGES = ("fr", "en")
    JSON_SORT_KEYS = False

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
    SESSION_COOKIE_SECURE = os.environ.get("CARTAGORA_SECURE_COOKIES", "") == "1"
