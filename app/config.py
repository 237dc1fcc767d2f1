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
    LANGUAGES = ("fr", "en")
    JSON_SORT_KEYS = False
