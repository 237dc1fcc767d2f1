"""Writes on contributions: create, edit, withdraw, photos. Services flush; never commit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app import policy
from app.accounts.models import User
from app.contributions import photos as photo_files
from app.contributions.models import INITIAL_STATUS, Contribution, Photo
from app.errors import Conflict, FieldError, NotFound, ValidationFailed

# the limits of a contribution's text (app.contributions.schemas declares them to clients)
TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX = 3, 140, 5000
ADDRESS_MAX = 200


def create(
    session: Session, kind: str, author: User, values: dict, uploads: list[FileStorage],
    media_dir: Path, max_photo_bytes: int, max_photos: int,
) -> tuple[Contribution, list[Path]]:
    """A new contribution from column values (`FeatureBody.values()`) and its photos. Returns
    it and the photo files written, which the caller removes unless the transaction commits."""
    policy.require(session, author, "contribution.create")
    processed = process_uploads(uploads, max_photo_bytes, max_photos, already=0)
    from app.moderation.services import is_banned

    contribution = Contribution(kind=kind, status=INITIAL_STATUS[kind], author_id=author.id,
                                hidden=is_banned(session, author), **values)
    session.add(contribution)
    session.flush()  # the trigger fills arrondissement and quartier
    written = attach_photos(session, contribution, processed, media_dir)
    return contribution, written


def process_uploads(uploads, max_bytes: int, max_photos: int, already: int):
    if already + len(uploads) > max_photos:
        raise ValidationFailed([FieldError("photos", "too_many_photos", {"max": max_photos})],
                               code="too_many_photos", params={"max": max_photos})
    processed, errors = [], []
    for i, upload in enumerate(uploads):
        raw = upload.stream.read(max_bytes + 1)
        try:
            processed.append(photo_files.process(raw, max_bytes))
        except photo_files.PhotoRejected as exc:
            errors.append(FieldError(f"photos[{i}]", exc.code))
    if errors:
        raise ValidationFailed(errors)
    return processed


def attach_photos(session: Session, contribution: Contribution, processed,
                  media_dir: Path) -> list[Path]:
    """Rows and files together. Returns the files written: the caller must remove them if the
    transaction does not commit (app.contributions.media). If this fails half-way, it removes
    the files it wrote itself before raising."""
    position = contribution.photos_count
    written: list[Path] = []
    try:
        for photo in processed:
            if any(p.sha256 == photo.sha256 for p in contribution.photos):
                continue
            written.extend(photo_files.store(media_dir, photo))
            contribution.photos.append(
                Photo(
                    sha256=photo.sha256, width=photo.width, height=photo.height,
                    bytes=len(photo.data), position=position,
                )
            )
            position += 1
        contribution.photos_count = position
        session.flush()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def update(session: Session, contribution: Contribution, user: User, values: dict) -> Contribution:
    """Edit a contribution (locked by the caller). Staff who are not its author edit it only
    inside their scope, and cannot move or recategorise it out of their scope."""
    policy.require(session, user, "contribution.edit", contribution)
    if contribution.withdrawn_at is not None:
        raise Conflict("already_withdrawn")
    for key, value in values.items():
        setattr(contribution, key, value)
    contribution.updated_at = datetime.now(UTC)
    session.flush()  # a new geometry makes the trigger recompute arrondissement and quartier
    session.refresh(contribution)
    if contribution.author_id != user.id and not policy.covers(session, user, contribution):
        moved = [name for name, column in (("geometry", "geom"), ("category", "category_id"))
                 if column in values]
        raise ValidationFailed([FieldError(name, "out_of_scope") for name in moved or ["geometry"]])
    return contribution


def withdraw(session: Session, contribution: Contribution, user: User) -> None:
    """The author (or staff in scope) takes a contribution off the map; never deleted."""
    policy.require(session, user, "contribution.withdraw", contribution)
    if contribution.withdrawn_at is not None:
        return
    contribution.withdrawn_at = datetime.now(UTC)
    contribution.updated_at = contribution.withdrawn_at
    session.flush()


def visible_or_404(session: Session, kind: str, contribution_id: int, *,
                   withdrawn: bool = False, lock: bool = False) -> Contribution:
    """The contribution a view works on, or a 404 problem (`contribution_not_found`). With
    `lock`, its row is locked until the request's transaction ends (SELECT … FOR UPDATE):
    a concurrent change waits, then sees this one's result."""
    contribution = get_visible(session, kind, contribution_id, withdrawn=withdrawn, lock=lock)
    if contribution is None:
        raise NotFound("contribution_not_found")
    return contribution


def get_visible(
    session: Session, kind: str, contribution_id: int, *, withdrawn: bool = False,
    lock: bool = False,
) -> Contribution | None:
    """A contribution the public can see (with withdrawn=True, also one its author withdrew)."""
    query = select(Contribution).where(
        Contribution.id == contribution_id,
        Contribution.kind == kind,
        Contribution.hidden.is_(False),
    )
    if not withdrawn:
        query = query.where(Contribution.withdrawn_at.is_(None))
    if lock:  # and read the row as the lock found it, not as this session last saw it
        query = query.with_for_update(of=Contribution).execution_options(populate_existing=True)
    return session.scalar(query)
