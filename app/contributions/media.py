"""Photos and rows commit together: files written by a request that did not commit are removed.
A photo is served only while a contribution the public can see uses it."""

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from app.contributions.models import Contribution, Photo
from app.db import db
from app.field.models import StatusEvent


def photo_is_public(session: Session, sha256: str) -> bool:
    """Whether a contribution neither withdrawn nor hidden shows this photo, among its own or
    in its history (an agent's photo of the work belongs to the report: the same rule)."""
    visible = (Contribution.hidden.is_(False), Contribution.withdrawn_at.is_(None))
    own = exists().where(Photo.sha256 == sha256, Contribution.id == Photo.contribution_id, *visible)
    history = exists().where(StatusEvent.photo_sha256 == sha256,
                             Contribution.id == StatusEvent.contribution_id, *visible)
    return session.scalar(select(or_(own, history)))


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
