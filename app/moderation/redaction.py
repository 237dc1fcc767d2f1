"""Photo redaction: a moderator blurs regions of a contribution's photo (faces, number plates).

The blurred copy replaces the photo on the contribution (its row keeps its position); the
original stays on disk, named by its hash, and a photo_redactions row lists it for staff, who
read it through `original_for`. The public stops seeing the original at once: a photo is
served only while a visible contribution uses it (app.contributions.media.photo_is_public), so
it still is if another visible contribution shows the very same file — that one was not
redacted. Each redaction writes one audit entry, in the same transaction.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.api.types import exists_in_columns
from app.contributions import photos as photo_files
from app.contributions.models import Contribution, Photo
from app.errors import FieldError, NotFound, ValidationFailed
from app.moderation.models import PhotoRedaction
from app.moderation.services import audit


def _region(region) -> dict:
    if isinstance(region, dict):
        return {k: float(region[k]) for k in ("x", "y", "w", "h")}
    return {k: float(getattr(region, k)) for k in ("x", "y", "w", "h")}


def outside_errors(regions: list[dict]) -> list[FieldError]:
    """Regions that run past the photo's right or bottom edge (each number alone is checked by
    the declared model; their sums are not something a JSON Schema can say)."""
    errors = []
    for i, r in enumerate(regions):
        for start, size in (("x", "w"), ("y", "h")):
            if r[start] + r[size] > 1 + 1e-9:
                errors.append(FieldError(f"regions[{i}].{size}", "out_of_range",
                                         {"min": 0, "max": round(1 - r[start], 6)}))
    return errors


def _contribution(session: Session, contribution_id: int, lock: bool) -> Contribution:
    if not exists_in_columns(contribution_id):
        raise NotFound("not_found")
    contribution = session.get(Contribution, contribution_id,
                               with_for_update={"of": Contribution} if lock else None)
    if contribution is None or contribution.withdrawn_at is not None:
        raise NotFound("not_found")
    return contribution


def _photo(session: Session, contribution: Contribution, sha256: str) -> Photo:
    photo = session.scalar(select(Photo).where(Photo.contribution_id == contribution.id,
                                               Photo.sha256 == sha256))
    if photo is None:
        raise NotFound("not_found")
    return photo


def photo_to_redact(session: Session, moderator: User, contribution_id: int, sha256: str) -> Photo:
    """A photo of a contribution (hidden or not, but not withdrawn), for a moderator about to
    redact it."""
    contribution = _contribution(session, contribution_id, lock=False)
    policy.require(session, moderator, "photo.redact", contribution)
    return _photo(session, contribution, sha256)


def redact_photo(session: Session, moderator: User, contribution_id: int, sha256: str, regions,
                 reason: str, media_dir: Path) -> tuple[Photo, list[Path]]:
    """Blur `regions` (x, y, w, h as fractions of the photo) of the photo `sha256` of the
    contribution; the blurred copy replaces it. Returns the photo's row and the files written,
    which the caller removes if the transaction does not commit (app.contributions.media)."""
    contribution = _contribution(session, contribution_id, lock=True)  # redactions in turn
    policy.require(session, moderator, "photo.redact", contribution)
    photo = _photo(session, contribution, sha256)
    regions = [_region(r) for r in regions]
    errors = outside_errors(regions)
    if errors:
        raise ValidationFailed(errors)
    original, _ = photo_files.paths(media_dir, sha256)
    redacted = photo_files.redact(original.read_bytes(), regions)
    written = photo_files.store(media_dir, redacted)
    try:
        photo.sha256, photo.width, photo.height = redacted.sha256, redacted.width, redacted.height
        photo.bytes = len(redacted.data)
        session.add(PhotoRedaction(contribution_id=contribution.id, original_sha256=sha256,
                                   redacted_sha256=redacted.sha256, regions=regions,
                                   moderator_id=moderator.id, reason=reason))
        audit(session, moderator, "photo.redact", "contribution", contribution.id, reason,
              original=sha256, redacted=redacted.sha256, regions=regions)
        session.flush()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return photo, written


def original_for(session: Session, user: User | None, sha256: str, media_dir: Path) -> Path:
    """The file of a redacted photo's original, for staff: moderators, and staff whose scope
    covers a contribution it was redacted on. An original nobody redacted is not one (404)."""
    contribution_ids = session.scalars(select(PhotoRedaction.contribution_id).where(
        PhotoRedaction.original_sha256 == sha256).order_by(PhotoRedaction.id)).all()
    contributions = [c for c in (session.get(Contribution, i) for i in dict.fromkeys(contribution_ids))
                     if c is not None]
    if not contributions:
        raise NotFound("not_found")
    if not any(policy.allows(session, user, "photo.read_original", c) for c in contributions):
        policy.require(session, user, "photo.read_original", contributions[0])  # raises
    path, _ = photo_files.paths(media_dir, sha256)
    if not path.is_file():
        raise NotFound("not_found")
    return path


def photos_of(session: Session, contribution_ids: list[int]) -> dict[int, list[str]]:
    """The photos' SHA-256 of each contribution, in their order (the moderation queue)."""
    out: dict[int, list[str]] = {}
    if contribution_ids:
        for cid, sha in session.execute(select(Photo.contribution_id, Photo.sha256).where(
                Photo.contribution_id.in_(contribution_ids)).order_by(Photo.contribution_id, Photo.position)):
            out.setdefault(cid, []).append(sha)
    return out
