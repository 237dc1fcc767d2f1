"""Writes on contributions: create, edit, withdraw, photos. Services flush; never commit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import g
from geoalchemy2.shape import from_shape
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.accounts.models import User
from app.areas.services import category_index
from app.contributions import photos as photo_files
from app.contributions.models import INITIAL_STATUS, Contribution, Photo
from app.errors import Conflict, FieldError, Forbidden, ValidationFailed, geometry_problem
from app.schemas import Fields
from geo.errors import GeometryError
from geo.validation import parse_geometry

TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX = 3, 140, 5000


def parse_feature(session: Session, kind: str, feature: object, *, partial: bool = False) -> dict:
    """Validate a GeoJSON Feature body into column values; every field error at once."""
    if not isinstance(feature, dict):
        raise ValidationFailed([FieldError("", "invalid_value")])
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ValidationFailed([FieldError("properties", "invalid_value")])
    fields = Fields(props, prefix="properties.")
    values: dict = {}
    if not partial or "title" in props:
        values["title"] = fields.string("title", min_len=TITLE_MIN, max_len=TITLE_MAX)
    if not partial or "description" in props:
        values["description"] = fields.string(
            "description", required=False, max_len=DESCRIPTION_MAX
        ) or ""
    if not partial or "category" in props:
        code = fields.string("category", max_len=80)
        if code is not None:
            cat = category_index(session).by_code.get(code)
            if cat is None or cat.kind != kind:
                fields.error("category", "unknown_category")
            else:
                values["category_id"] = cat.id
    if not partial or "address" in props:
        values["address"] = fields.string("address", required=False, max_len=200) or None
    geometry_error = None
    if not partial or "geometry" in feature:
        try:
            values["geom"] = from_shape(parse_geometry(feature.get("geometry"), kind), srid=4326)
        except GeometryError as exc:
            geometry_error = exc
    if geometry_error is not None:
        err = geometry_problem(geometry_error)
        err.errors = fields.errors + err.errors
        raise err
    fields.done()
    return values


def create(
    session: Session, kind: str, author: User, values: dict, uploads: list[FileStorage],
    media_dir: Path, max_photo_bytes: int, max_photos: int,
) -> Contribution:
    processed = process_uploads(uploads, max_photo_bytes, max_photos, already=0)
    contribution = Contribution(kind=kind, status=INITIAL_STATUS[kind], author_id=author.id, **values)
    session.add(contribution)
    session.flush()  # the trigger fills arrondissement and quartier
    attach_photos(session, contribution, processed, media_dir)
    return contribution


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


def attach_photos(session: Session, contribution: Contribution, processed, media_dir: Path) -> None:
    """Rows and files together: files written now are removed if the transaction rolls back."""
    position = contribution.photos_count
    for photo in processed:
        if any(p.sha256 == photo.sha256 for p in contribution.photos):
            continue
        created = photo_files.store(media_dir, photo)
        g.setdefault("new_media_files", []).extend(created)
        contribution.photos.append(
            Photo(
                sha256=photo.sha256, width=photo.width, height=photo.height,
                bytes=len(photo.data), position=position,
            )
        )
        position += 1
    contribution.photos_count = position
    session.flush()


def ensure_can_edit(contribution: Contribution, user: User) -> None:
    ensure_author_or_staff(contribution, user)
    if contribution.withdrawn_at is not None:
        raise Conflict("already_withdrawn")


def ensure_author_or_staff(contribution: Contribution, user: User) -> None:
    if contribution.author_id != user.id and not user.has_role("moderator", "agent", "planner"):
        raise Forbidden()


def update(session: Session, contribution: Contribution, user: User, values: dict) -> Contribution:
    ensure_can_edit(contribution, user)
    for key, value in values.items():
        setattr(contribution, key, value)
    contribution.updated_at = datetime.now(UTC)
    session.flush()  # a new geometry makes the trigger recompute arrondissement and quartier
    session.refresh(contribution)
    return contribution


def withdraw(session: Session, contribution: Contribution, user: User) -> None:
    """The author (or staff) takes a contribution off the map; it is never deleted."""
    ensure_author_or_staff(contribution, user)
    if contribution.withdrawn_at is not None:
        return
    contribution.withdrawn_at = datetime.now(UTC)
    contribution.updated_at = contribution.withdrawn_at
    session.flush()


def get_visible(
    session: Session, kind: str, contribution_id: int, *, withdrawn: bool = False
) -> Contribution | None:
    """A contribution the public can see (with withdrawn=True, also one its author withdrew)."""
    query = select(Contribution).where(
        Contribution.id == contribution_id,
        Contribution.kind == kind,
        Contribution.hidden.is_(False),
    )
    if not withdrawn:
        query = query.where(Contribution.withdrawn_at.is_(None))
    return session.scalar(query)
