"""Photos and rows commit together: files written by a request that did not commit are removed.
A photo is served only while a contribution the public can see uses it (or a project of a
published participatory budget)."""

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.contributions import photos as photo_files
from app.contributions.models import Contribution, Photo
from app.db import db
from app.errors import FieldError, ValidationFailed
from app.field.models import StatusEvent

# every table that names a stored photo: a file none of them names after a failed request goes
USED_BY = ("SELECT 1 FROM photos WHERE sha256 = :s UNION ALL "
           "SELECT 1 FROM status_events WHERE photo_sha256 = :s UNION ALL "
           "SELECT 1 FROM budget_project_photos WHERE sha256 = :s LIMIT 1")


def store_photo(upload: FileStorage, field: str = "photo") -> str:
    """Check and store an uploaded photo (decoded and re-encoded from its pixels: no metadata);
    its SHA-256. The files are removed again if the request does not commit."""
    cfg = current_app.config
    try:
        photo = photo_files.process(upload.stream.read(cfg["PHOTO_MAX_BYTES"] + 1),
                                    cfg["PHOTO_MAX_BYTES"])
    except photo_files.PhotoRejected as exc:
        raise ValidationFailed([FieldError(field, exc.code)]) from None
    remove_unless_committed(photo_files.store(cfg["MEDIA_DIR"], photo))
    return photo.sha256


def photo_is_public(session: Session, sha256: str) -> bool:
    """Whether a contribution neither withdrawn nor hidden shows this photo, among its own or
    in its history (an agent's photo of the work belongs to the report: the same rule)."""
    visible = (Contribution.hidden.is_(False), Contribution.withdrawn_at.is_(None))
    own = exists().where(Photo.sha256 == sha256, Contribution.id == Photo.contribution_id, *visible)
    history = exists().where(StatusEvent.photo_sha256 == sha256,
                             Contribution.id == StatusEvent.contribution_id, *visible)
    budget = text("""EXISTS (SELECT 1 FROM budget_project_photos ph JOIN budget_projects p ON p.id = ph.project_id
                             JOIN budget_cycles c ON c.id = p.cycle_id
                             WHERE ph.sha256 = :budget_sha AND c.status = 'published')""").bindparams(
        budget_sha=sha256)
    return session.scalar(select(or_(own, history, budget)))


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
                used = conn.scalar(text(USED_BY), {"s": sha})
                if not used:
                    path.unlink(missing_ok=True)
                    current_app.logger.info("removed uncommitted photo file %s", path.name)
