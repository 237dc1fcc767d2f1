"""Consultations: open, edit, publish, close; the rules residents meet in each phase; the
synthesis. Services take plain values, ask app.policy, lock what they change and flush."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.consultations.models import ALLOWED_IN, PHASES, VOTE_VALUES, Consultation, Phase
from app.contributions.models import Contribution
from app.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from app.phases import PhaseDays, periods
from geo.aggregations import PARIS, paris_midnight

# how long the synthesis lasts when a planner closes a consultation that had no synthesis phase
SYNTHESIS_DAYS = 30
# the limits of a consultation's text (app.consultations.schemas declares them to clients)
TITLE_MIN, TITLE_MAX, QUESTION_MAX, DESCRIPTION_MAX = 3, 140, 500, 5000
# how many proposals the synthesis ranks as most supported and most contested
TOP = 5


class ConsultationClosed(AppError):
    """An action the consultation's current phase does not allow (409)."""

    status, code, title = 409, "consultation_phase", "Conflict"



def now() -> datetime:
    return datetime.now(UTC)


def day_label(instant: datetime) -> str:
    return instant.astimezone(PARIS).date().isoformat()


# ---- reading ------------------------------------------------------------------------------

def get(session: Session, consultation_id: int, reader: User | None, *, lock: bool = False,
        share: bool = False) -> Consultation:
    """A consultation the reader may see (drafts: planners only), or 404. `lock` takes it for
    a change (FOR UPDATE); `share` keeps it from changing while a proposal joins it."""
    query = select(Consultation).where(Consultation.id == consultation_id)
    if lock or share:
        query = query.with_for_update(read=share and not lock, of=Consultation).execution_options(
            populate_existing=True)
    consultation = session.scalar(query)
    if consultation is None or (consultation.status == "draft" and not policy.allows(
            session, reader, "consultation.read_draft", consultation)):
        raise NotFound("consultation_not_found")
    return consultation


def listing(session: Session, reader: User | None, stage: str | None, limit: int) -> list[Consultation]:
    """Newest first; drafts only for planners."""
    query = select(Consultation).order_by(Consultation.created_at.desc(), Consultation.id.desc())
    if not policy.allows(session, reader, "consultation.read_draft"):
        query = query.where(Consultation.status == "published")
    at = now()
    items = [c for c in session.scalars(query.limit(500)) if stage is None or c.phase_at(at) == stage]
    return items[:limit]


def summary(session: Session, consultation_id: int, *, area: bool = False):
    """Its bounding box, its visible proposals' count and (with `area`) its area as GeoJSON."""
    return session.execute(text("""
        SELECT ST_XMin(area) AS w, ST_YMin(area) AS s, ST_XMax(area) AS e, ST_YMax(area) AS n,
               CASE WHEN :area THEN ST_AsGeoJSON(area, 6) END AS geojson,
               (SELECT count(*) FROM contributions c WHERE c.consultation_id = k.id
                AND NOT c.hidden AND c.withdrawn_at IS NULL) AS proposals
        FROM consultations k WHERE id = :id"""), {"id": consultation_id, "area": area}).one()


def proposal_list(session: Session, consultation_id: int, limit: int = 500) -> list:
    """Its visible proposals for the page's list, the best supported first."""
    return session.execute(text("""
        SELECT c.id, c.title, c.status, c.votes_up, c.votes_down, c.comments_count
        FROM contributions c WHERE c.consultation_id = :id AND NOT c.hidden AND c.withdrawn_at IS NULL
        ORDER BY c.votes_up - c.votes_down DESC, c.id LIMIT :limit"""),
        {"id": consultation_id, "limit": limit}).all()


def published_title(session: Session, consultation_id: int) -> str | None:
    """A published consultation's title (what a proposal's page links to), else None."""
    return session.scalar(text("SELECT title FROM consultations WHERE id = :id AND status = 'published'"),
                          {"id": consultation_id})


# ---- writing ------------------------------------------------------------------------------

def phase_periods(days: list[PhaseDays]) -> list[tuple[str, datetime, datetime]]:
    """The phases as instants (app.phases: Paris days, in PHASES order, contiguous)."""
    return periods(days, PHASES, first="ideas")


def area_of(session: Session, kind: str, ids: list[int], polygon: BaseGeometry | None) -> object:
    """The area as a MultiPolygon (a SQL value): the union of arrondissements or quartiers,
    or the drawn polygon (already checked inside Paris by geo.validation)."""
    if kind == "polygon":
        return session.scalar(text("SELECT ST_Multi(ST_GeomFromWKB(:g, 4326))"), {"g": polygon.wkb})
    table = {"arrondissements": "arrondissements", "quartiers": "quartiers"}[kind]
    known = set(session.scalars(text(f"SELECT id FROM {table} WHERE id = ANY(:ids)"), {"ids": ids}))
    unknown = [FieldError(f"area.{kind}[{i}]", "invalid_value") for i, v in enumerate(ids) if v not in known]
    if unknown or not ids:
        raise ValidationFailed(unknown or [FieldError(f"area.{kind}", "required")])
    return session.scalar(text(f"SELECT ST_Multi(ST_Union(geom)) FROM {table} WHERE id = ANY(:ids)"),
                          {"ids": ids})


def check_themes(session: Session, themes: list[str] | None) -> list[str] | None:
    from app.areas.services import category_index

    index = category_index(session)
    bad = [FieldError(f"themes[{i}]", "unknown_category") for i, code in enumerate(themes or [])
           if code not in index.by_code or index.by_code[code].kind != "proposal"]
    if bad:
        raise ValidationFailed(bad)
    return sorted(set(themes)) if themes else None


def create(session: Session, actor: User, values: dict, area: tuple[str, list[int], BaseGeometry | None],
           phases: list[PhaseDays]) -> Consultation:
    """A new consultation, as a draft. `values`: title, question, description, themes,
    geometry_types, vote_rule."""
    policy.require(session, actor, "consultation.manage")
    periods = phase_periods(phases)
    kind, ids, polygon = area
    consultation = Consultation(
        title=values["title"], question=values["question"], description=values.get("description") or "",
        themes=check_themes(session, values.get("themes")),
        geometry_types=sorted(set(values["geometry_types"]), key=("Point", "LineString", "Polygon").index),
        vote_rule=values["vote_rule"], area_kind=kind, area_ids=sorted(set(ids)),
        area=area_of(session, kind, sorted(set(ids)), polygon), status="draft", created_by_id=actor.id,
        phases=[Phase(phase=p, starts_at=s, ends_at=e) for p, s, e in periods])
    session.add(consultation)
    session.flush()
    _audit(session, actor, "consultation.create", consultation, changes={"title": consultation.title})
    return consultation


# what may change once published: the texts and the future (not its rules nor its area)
EDITABLE_WHEN_PUBLISHED = ("title", "question", "description")


def update(session: Session, actor: User, consultation: Consultation, values: dict,
           area: tuple[str, list[int], BaseGeometry | None] | None,
           phases: list[PhaseDays] | None) -> Consultation:
    """Edit a consultation (locked by the caller). A draft changes freely; a published one
    only its texts, and its phases until the first one starts (then `close` ends it early)."""
    policy.require(session, actor, "consultation.manage", consultation)
    at = now()
    if consultation.status == "published":
        frozen = [k for k in values if k not in EDITABLE_WHEN_PUBLISHED] + (["area"] if area else [])
        if frozen:
            raise ValidationFailed([FieldError(k, "frozen_once_published") for k in frozen])
    before = {k: getattr(consultation, k) for k in values}
    for key, value in values.items():
        if key == "themes":
            value = check_themes(session, value)
        setattr(consultation, key, value)
    if area is not None:
        kind, ids, polygon = area
        consultation.area_kind, consultation.area_ids = kind, sorted(set(ids))
        consultation.area = area_of(session, kind, sorted(set(ids)), polygon)
    if phases is not None:
        periods = phase_periods(phases)
        if consultation.status == "published" and consultation.phase_at(at) != "upcoming":
            raise ValidationFailed([FieldError("phases", "phase_started")])
        consultation.phases = []
        session.flush()
        consultation.phases = [Phase(phase=p, starts_at=s, ends_at=e) for p, s, e in periods]
    consultation.updated_at = at
    session.flush()
    _audit(session, actor, "consultation.edit", consultation,
           original={k: _plain(v) for k, v in before.items()},
           changes={k: _plain(v) for k, v in values.items()} | ({"area": area[0]} if area else {})
           | ({"phases": [d.phase for d in phases]} if phases else {}))
    return consultation


def publish(session: Session, actor: User, consultation: Consultation) -> Consultation:
    policy.require(session, actor, "consultation.manage", consultation)
    if consultation.status != "draft":
        raise Conflict("already_published")
    consultation.status, consultation.published_at = "published", now()
    consultation.updated_at = consultation.published_at
    session.flush()
    _audit(session, actor, "consultation.publish", consultation)
    return consultation


def close(session: Session, actor: User, consultation: Consultation) -> Consultation:
    """End participation now (locked by the caller): the ideas and votes phases stop, the
    synthesis starts (for SYNTHESIS_DAYS when it had none), the answers keep their dates."""
    policy.require(session, actor, "consultation.manage", consultation)
    at = now()
    stage = consultation.phase_at(at)
    if stage not in ("ideas", "votes"):
        raise Conflict("consultation_not_open", {"phase": stage})
    phases = {p.phase: p for p in consultation.phases}
    for name in ("ideas", "votes"):
        p = phases.get(name)
        if p is None:
            continue
        if p.starts_at >= at:  # not started: it will not happen
            consultation.phases.remove(p)
        else:
            p.ends_at = at
    session.flush()
    synthesis = phases.get("synthesis")
    if synthesis is not None:
        synthesis.starts_at = at
    else:
        answers = phases.get("answers")
        end = answers.starts_at if answers else paris_midnight(
            at.astimezone(PARIS).date() + timedelta(days=SYNTHESIS_DAYS + 1))
        consultation.phases.append(Phase(phase="synthesis", starts_at=at, ends_at=end))
    consultation.closed_at = consultation.updated_at = at
    session.flush()
    session.expire(consultation, ["phases"])
    _audit(session, actor, "consultation.close", consultation, changes={"phase_was": stage})
    return consultation


def _plain(value):
    return value if isinstance(value, str | int | float | bool | list | type(None)) else str(value)


def _audit(session: Session, actor: User, action: str, consultation: Consultation, **details) -> None:
    from app.moderation.services import audit

    audit(session, actor, action, "consultation", consultation.id, None, **details)


# ---- what residents meet ------------------------------------------------------------------

def admit_proposal(session: Session, consultation_id: int, geometry: BaseGeometry | None,
                   category_id: int | None, reader: User | None,
                   current: Contribution | None = None) -> Consultation:
    """A proposal (new, or moved/recategorised: `current`) may answer the consultation: it is
    published and in its ideas phase, the place lies in its area (a point on the border
    counts), the geometry type and theme are accepted. Each failure is a field error in the
    reader's language. The consultation is read under a share lock: closing it waits for
    this proposal's transaction, and this one for a closing in progress."""
    from app.api.types import exists_in_columns

    if not exists_in_columns(consultation_id):
        raise ValidationFailed([FieldError("properties.consultation", "consultation_not_found")])
    try:
        consultation = get(session, consultation_id, reader, share=True)
    except NotFound:
        raise ValidationFailed([FieldError("properties.consultation", "consultation_not_found")]) from None
    errors = []
    at = now()
    stage = consultation.phase_at(at)
    if stage != "ideas":
        ideas = consultation.period("ideas")
        errors.append(FieldError("properties.consultation", "consultation_not_taking_ideas", {
            "start": day_label(ideas.starts_at) if ideas else "—",
            "end": day_label(ideas.ends_at - timedelta(seconds=1)) if ideas else "—"}))
    if geometry is not None:
        if geometry.geom_type not in consultation.geometry_types:
            errors.append(FieldError("geometry", "geometry_type_not_accepted",
                                     {"allowed": ", ".join(consultation.geometry_types)}))
        elif not session.scalar(text(
                "SELECT ST_Covers(area, ST_GeomFromWKB(:g, 4326)) FROM consultations WHERE id = :id"),
                {"g": geometry.wkb, "id": consultation.id}):
            errors.append(FieldError("geometry", "outside_consultation_area"))
    if category_id is not None and consultation.themes:
        from app.areas.services import category_index

        index = category_index(session)
        allowed = {i for code in consultation.themes for i in index.subtree_ids(code, "proposal") or ()}
        if category_id not in allowed:
            errors.append(FieldError("properties.category", "theme_not_in_consultation",
                                     {"themes": ", ".join(consultation.themes)}))
    if errors:
        raise ValidationFailed(errors)
    return consultation


def check_participation(session: Session, contribution: Contribution, action: str) -> str | None:
    """Refuse a vote or a comment on a consultation's proposal outside the phases that take it
    (409 `consultation_phase`); returns the consultation's vote rule (None: not in one)."""
    if contribution.consultation_id is None:
        return None
    consultation = session.scalar(select(Consultation).where(
        Consultation.id == contribution.consultation_id).with_for_update(read=True, of=Consultation))
    stage = consultation.phase_at(now())
    if action not in ALLOWED_IN.get(stage, ()):
        raise ConsultationClosed("consultation_phase", {"phase": stage}, extra={"phase": stage})
    return consultation.vote_rule


def vote_values(rule: str | None) -> tuple[int, ...]:
    return VOTE_VALUES[rule or "for_against"]


# ---- the synthesis ------------------------------------------------------------------------

SYNTHESIS_ROWS = """
    SELECT c.id, c.title, c.status, c.arrondissement_id, c.quartier_id, q.name AS quartier,
           coalesce(t.code, cat.code) AS theme, c.votes_up, c.votes_down, c.comments_count,
           coalesce(v.score, 0) AS score, coalesce(v.n, 0) AS votes,
           ST_AsGeoJSON(c.geom, 6) AS geometry,
           ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat
    FROM contributions c
    JOIN categories cat ON cat.id = c.category_id
    LEFT JOIN categories t ON t.id = cat.parent_id
    JOIN quartiers q ON q.id = c.quartier_id
    LEFT JOIN LATERAL (SELECT sum(value) AS score, count(*) AS n FROM votes
                       WHERE contribution_id = c.id) v ON true
    WHERE c.consultation_id = :id AND c.kind = 'proposal' AND NOT c.hidden AND c.withdrawn_at IS NULL
    ORDER BY c.id
"""


def proposals_of(session: Session, consultation: Consultation) -> list[dict]:
    return [dict(r._mapping) for r in session.execute(text(SYNTHESIS_ROWS), {"id": consultation.id})]


def synthesis(session: Session, consultation: Consultation, rows: list[dict] | None = None) -> dict:
    """Counts, most supported (highest score: the sum of votes, ±1 or −2…+2) and most
    contested (the most votes on the losing side, then the closest split), breakdowns by theme,
    arrondissement and quartier, and the heat points (a proposal's weight: 1 + its votes)."""
    rows = proposals_of(session, consultation) if rows is None else rows
    people = session.execute(text("""
        SELECT count(DISTINCT v.user_id) AS voters,
               (SELECT count(DISTINCT author_id) FROM contributions
                WHERE consultation_id = :id AND NOT hidden AND withdrawn_at IS NULL) AS authors
        FROM votes v JOIN contributions c ON c.id = v.contribution_id
        WHERE c.consultation_id = :id AND NOT c.hidden AND c.withdrawn_at IS NULL
    """), {"id": consultation.id}).one()

    def brief(r):
        return {"id": r["id"], "title": r["title"], "score": r["score"], "votes": r["votes"],
                "for": r["votes_up"], "against": r["votes_down"], "status": r["status"]}

    supported = sorted((r for r in rows if r["votes"]), key=lambda r: (-r["score"], -r["votes"], r["id"]))
    contested = sorted((r for r in rows if r["votes_up"] and r["votes_down"]),
                       key=lambda r: (-min(r["votes_up"], r["votes_down"]),
                                      abs(r["votes_up"] - r["votes_down"]), r["id"]))

    def breakdown(key):
        out: dict = {}
        for r in rows:
            b = out.setdefault(r[key], {"proposals": 0, "votes": 0, "score": 0})
            b["proposals"] += 1
            b["votes"] += r["votes"]
            b["score"] += r["score"]
        return [{"key": k, **v} for k, v in sorted(out.items(), key=lambda kv: (-kv[1]["proposals"], str(kv[0])))]

    return {
        "counts": {"proposals": len(rows), "votes": sum(r["votes"] for r in rows),
                   "comments": sum(r["comments_count"] for r in rows),
                   "voters": people.voters, "authors": people.authors or 0},
        "most_supported": [brief(r) for r in supported[:TOP]],
        "most_contested": [brief(r) for r in contested[:TOP]],
        "by_theme": breakdown("theme"),
        "by_arrondissement": breakdown("arrondissement_id"),
        "by_quartier": [{**b, "name": next(r["quartier"] for r in rows if r["quartier_id"] == b["key"])}
                        for b in breakdown("quartier_id")],
        "heat": [[round(r["lat"], 6), round(r["lon"], 6), 1 + r["votes"]] for r in rows],
    }
