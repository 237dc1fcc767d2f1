"""Writes on contributions: create, edit, withdraw, photos. Services flush; never commit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app import policy
from app.accounts.models import User
from app.api.types import exists_in_columns
from app.contributions import photos as photo_files
from app.contributions.models import INITIAL_STATUS, Contribution, Photo
from app.errors import Conflict, FieldError, NotFound, ValidationFailed

# the limits of a contribution's text (app.contributions.schemas declares them to clients)
TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX = 3, 140, 5000
ADDRESS_MAX = 200


def create(
    session: Session, kind: str, author: User, values: dict, uploads: list[FileStorage],
    media_dir: Path, max_photo_bytes: int, max_photos: int, *,
    geometry: BaseGeometry | None = None, report_ids: list[int] | None = None,
) -> tuple[Contribution, list[Path]]:
    """A new contribution from column values (`FeatureBody.values()`) and its photos. Returns
    it and the photo files written, which the caller removes unless the transaction commits.
    A proposal may answer a consultation (its rules: app.consultations.services) and name the
    reports that motivated it (`geometry`: the shapely value of `values["geom"]`)."""
    policy.require(session, author, "contribution.create")
    check_category(session, author, values["category_id"])
    if values.get("consultation_id") is not None:
        from app.consultations.services import admit_proposal

        admit_proposal(session, values["consultation_id"], geometry, values["category_id"], author)
    if report_ids:
        check_reports(session, author, report_ids)
    processed = process_uploads(uploads, max_photo_bytes, max_photos, already=0)
    from app.moderation.services import is_banned

    contribution = Contribution(kind=kind, status=INITIAL_STATUS[kind], author_id=author.id,
                                hidden=is_banned(session, author), **values)
    session.add(contribution)
    session.flush()  # the trigger fills arrondissement and quartier
    if report_ids:
        from app.consultations.models import ProposalReport

        session.add_all([ProposalReport(proposal_id=contribution.id, report_id=r) for r in report_ids])
        session.flush()
    written = attach_photos(session, contribution, processed, media_dir)
    return contribution, written


def check_reports(session: Session, user: User, report_ids: list[int]) -> None:
    """Planners link a proposal to the reports behind it: each a visible report."""
    if not policy.allows(session, user, "proposal.link_reports"):
        raise ValidationFailed([FieldError("properties.reports", "planners_only")])
    found = set(session.scalars(select(Contribution.id).where(
        Contribution.id.in_([r for r in report_ids if exists_in_columns(r)]),
        Contribution.kind == "report", Contribution.hidden.is_(False),
        Contribution.withdrawn_at.is_(None))))
    missing = [FieldError(f"properties.reports[{i}]", "unknown_report")
               for i, r in enumerate(report_ids) if r not in found]
    if missing:
        raise ValidationFailed(missing)


def check_category(session: Session, user: User, category_id: int) -> None:
    """A new contribution (or a new category for one) takes an active category, and an
    agent-only one only from staff (app.policy `category.agent_only`)."""
    from app.areas.services import category_index

    cat = category_index(session).by_id[category_id]
    if not cat.active:
        raise ValidationFailed([FieldError("properties.category", "category_disabled")])
    if cat.agent_only and not policy.allows(session, user, "category.agent_only"):
        raise ValidationFailed([FieldError("properties.category", "category_agent_only")])


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


def update(session: Session, contribution: Contribution, user: User, values: dict,
           geometry: BaseGeometry | None = None) -> Contribution:
    """Edit a contribution (locked by the caller). Staff who are not its author edit it only
    inside their scope, and cannot move or recategorise it out of their scope. A consultation's
    proposal moves or changes theme only while the consultation takes ideas, and stays in its
    area (`geometry`: the shapely value of `values["geom"]`)."""
    policy.require(session, user, "contribution.edit", contribution)
    if contribution.withdrawn_at is not None:
        raise Conflict("already_withdrawn")
    if "category_id" in values and values["category_id"] != contribution.category_id:
        check_category(session, user, values["category_id"])
    if contribution.consultation_id is not None and ("geom" in values or "category_id" in values):
        from app.consultations.services import admit_proposal

        admit_proposal(session, contribution.consultation_id, geometry if "geom" in values else None,
                       values.get("category_id"), user)
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


def visible_or_404(session: Session, kind: str | None, contribution_id: int, *,
                   withdrawn: bool = False, lock: bool = False,
                   reader: User | None = None) -> Contribution:
    """The contribution a view works on, or a 404 problem (`contribution_not_found`). With
    `lock`, its row is locked until the request's transaction ends (SELECT … FOR UPDATE):
    a concurrent change waits, then sees this one's result. `reader`: see get_visible."""
    contribution = get_visible(session, kind, contribution_id, withdrawn=withdrawn, lock=lock,
                               reader=reader)
    if contribution is None:
        raise NotFound("contribution_not_found")
    return contribution


def get_visible(
    session: Session, kind: str | None, contribution_id: int, *, withdrawn: bool = False,
    lock: bool = False, reader: User | None = None,
) -> Contribution | None:
    """A contribution the public can see (with withdrawn=True, also one its author withdrew).
    `kind` None: either kind (a page whose address does not say).

    With a `reader` the policy lets read hidden contributions (`moderation.read_hidden`: a
    moderator reviewing it), also one moderation hid. Only the read paths pass a reader:
    a hidden contribution takes no edit, vote or comment, even from a moderator."""
    query = select(Contribution).where(Contribution.id == contribution_id)
    if kind is not None:
        query = query.where(Contribution.kind == kind)
    if reader is None:  # the public's: a hidden row is not even read (nor locked)
        query = query.where(Contribution.hidden.is_(False))
    if not withdrawn:
        query = query.where(Contribution.withdrawn_at.is_(None))
    if lock:  # and read the row as the lock found it, not as this session last saw it
        query = query.with_for_update(of=Contribution).execution_options(populate_existing=True)
    contribution = session.scalar(query)
    if contribution is not None and contribution.hidden and \
            not policy.allows(session, reader, "moderation.read_hidden", contribution):
        return None
    return contribution
