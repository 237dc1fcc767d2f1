"""Photos and rows commit together: files written by a request that did not commit are removed."""

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import text

from app.db import db


def remove_unless_committed(paths: list[Path]) -> None:
    """Files written for this request go if its transaction does not commit."""
    if paths:
        g.setdefault("new_media_files", []).extend(paths)


def register_media_cleanup(app: Flask) -> None:
    @app.teardown_request
    def remove_uncommitted_files(exc):
        files = g.pop("new_media_files", None)
        if not files or g.get("db_committed"):
            return
        with db.engine.connect() as conn:
            for path in files:
                sha = path.name.split(".")[0]
                used = conn.scalar(text(
                    "SELECT 1 FROM photos WHERE sha256 = :s UNION ALL "
                    "SELECT 1 FROM status_events WHERE photo_sha256 = :s LIMIT 1"), {"s": sha})
                if not used:
                    path.unlink(missing_ok=True)
                    current_app.logger.info("removed uncommitted photo file %s", path.name)
