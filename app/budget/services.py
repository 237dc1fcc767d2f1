"""The participatory budget: cycles (phases, envelopes, ballot rule), projects (submission,
support, co-construction merges, the city's feasibility study, delivery) and the reads behind
the API and the pages. Services take plain values, ask app.policy, lock what they change and
flush; a phase that does not allow an action is a 409 `budget_phase` naming it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.budget.models import (
    ALLOWED_IN,
    DELIVERY_DATES,
    PHASES,
    Cycle,
    CyclePhase,
    Envelope,
    Project,
    ProjectPerson,
)
from app.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed
from app.phases import PhaseDays, periods
from geo.aggregations import PARIS

# the limits of the texts and amounts (app.budget.schemas declares them to clients)
TITLE_MIN, TITLE_MAX, DESCRIPTION_MAX, ADDRESS_MAX, REASON_MAX = 3, 140, 5000, 300, 2000
COST_MAX = 10**13  # cents: 100 billion euros, far above any envelope
YEAR_MIN, YEAR_MAX = 2000, 2100
LINKS_MAX = 20
# what planners (the city's departments) do in each stage
PLANNERS_IN = {"co_construction": ("merge", "edit"), "submission": ("edit",), "feasibility": ("study", "edit"),
               "results": ("deliver",), "delivery": ("deliver",), "ended": ("deliver",)}
# the statuses a project may be edited, studied or merged in (before the vote)
OPEN_STATUSES = ("submitted", "feasible", "not_feasible")
# what makes the vote and the count: frozen once the vote has started
BALLOT_RULE = ("ballot_method", "max_choices", "grades", "winners_rule")
SOURCE = "bp_projets_gagnants"  # the city's dataset of winning projects (app.budget.importer)


class BudgetPhase(AppError):
    """An action the cycle's current phase does not allow (409)."""

    status, code, title = 409, "budget_phase", "Conflict"



@dataclass
class EnvelopeValues:
    arrondissement: int | None  # None: Paris-wide
    amount_cents: int
    popular_share_cents: int | None = None


def now() -> datetime:
    return datetime.now(UTC)


def paris_day(instant: datetime) -> str:
    return instant.astimezone(PARIS).date().isoformat()


def _refuse_phase(stage: str) -> BudgetPhase:
    return BudgetPhase("budget_phase", {"phase": stage}, extra={"phase": stage})


# ---- reading ------------------------------------------------------------------------------

def can_manage(session: Session, reader: User | None) -> bool:
    return policy.allows(session, reader, "budget.manage")


def get_cycle(session: Session, cycle_id: int, reader: User | None, *, lock: bool = False,
              share: bool = False) -> Cycle:
    """A cycle the reader may see (drafts: admins only), or 404 `budget_not_found`. `lock`
    takes it for a change; `share` keeps its phases from changing while a project is written."""
    query = select(Cycle).where(Cycle.id == cycle_id)
    if lock or share:
        query = query.with_for_update(read=share and not lock, of=Cycle).execution_options(
            populate_existing=True)
    cycle = session.scalar(query)
    if cycle is None or (cycle.status == "draft" and not can_manage(session, reader)):
        raise NotFound("budget_not_found")
    return cycle


def cycle_of_year(session: Session, year: int, reader: User | None) -> Cycle:
    cycle_id = session.scalar(select(Cycle.id).where(Cycle.year == year))
    if cycle_id is None:
        raise NotFound("budget_not_found")
    return get_cycle(session, cycle_id, reader)


def cycles(session: Session, reader: User | None) -> list[Cycle]:
    """Newest year first; drafts only for admins."""
    query = select(Cycle).order_by(Cycle.year.desc())
    if not can_manage(session, reader):
        query = query.where(Cycle.status == "published")
    return list(session.scalars(query))


def current_cycle(items: list[Cycle]) -> Cycle | None:
    """The cycle residents take part in now: the newest published one not imported and not
    over (upcoming or in a phase)."""
    at = now()
    return next((c for c in items if c.status == "published" and not c.imported
                 and c.phase_at(at) not in ("ended", "draft")), None)


def get_project(session: Session, project_id: int, reader: User | None, *, lock: bool = False,
                share: bool = False) -> Project:
    """A project of a cycle the reader may see, or 404 `budget_project_not_found`. `lock` takes
    it for a change; `share` keeps it from being merged meanwhile (a support)."""
    query = select(Project).where(Project.id == project_id)
    if lock or share:
        query = query.with_for_update(read=share and not lock, of=Project).execution_options(
            populate_existing=True)
    project = session.scalar(query)
    if project is None:
        raise NotFound("budget_project_not_found")
    status = session.scalar(select(Cycle.status).where(Cycle.id == project.cycle_id))
    if status == "draft" and not can_manage(session, reader):
        raise NotFound("budget_project_not_found")
    return project


# ---- cycles -------------------------------------------------------------------------------

def phase_periods(days: list[PhaseDays]) -> list[tuple[str, datetime, datetime]]:
    """The phases as instants (app.phases: Paris days, in PHASES order, contiguous)."""
    return periods(days, PHASES)


def check_envelopes(envelopes: list[EnvelopeValues]) -> None:
    errors, seen = [], set()
    for i, e in enumerate(envelopes):
        if e.arrondissement in seen:
            errors.append(FieldError(f"envelopes[{i}].arrondissement", "duplicate_envelope"))
        seen.add(e.arrondissement)
        if e.popular_share_cents is not None and e.popular_share_cents > e.amount_cents:
            errors.append(FieldError(f"envelopes[{i}].popular_share_cents", "popular_share_above_amount"))
    if errors:
        raise ValidationFailed(errors)


def _ballot(values: dict) -> dict:
    """The ballot rule's numbers: approval's at most N projects (None: no limit), majority
    judgment's grades (4 by default, as Paris in 2021); a rule's number is null under another."""
    method = values.get("ballot_method") or "approval"
    return {"ballot_method": method,
            "max_choices": values.get("max_choices") if method == "approval" else None,
            "grades": (values.get("grades") or 4) if method == "majority_judgment" else None,
            "winners_rule": values.get("winners_rule") or "greedy"}


def create_cycle(session: Session, actor: User, values: dict, phases: list[PhaseDays],
                 envelopes: list[EnvelopeValues]) -> Cycle:
    """A new cycle, as a draft. `values`: year, title, description, ballot_method,
    max_choices, grades."""
    policy.require(session, actor, "budget.manage")
    periods = phase_periods(phases)
    check_envelopes(envelopes)
    if session.scalar(select(Cycle.id).where(Cycle.year == values["year"])) is not None:
        raise Conflict("budget_year_taken", {"year": values["year"]})
    cycle = Cycle(year=values["year"], title=values["title"], description=values.get("description") or "",
                  status="draft", created_by_id=actor.id, **_ballot(values),
                  phases=[CyclePhase(phase=p, starts_at=s, ends_at=e) for p, s, e in periods],
                  envelopes=[Envelope(arrondissement_id=e.arrondissement, amount_cents=e.amount_cents,
                                      popular_share_cents=e.popular_share_cents) for e in envelopes])
    session.add(cycle)
    session.flush()
    _audit(session, actor, "budget.create", "budget_cycle", cycle.id, changes={"year": cycle.year,
                                                                              "title": cycle.title})
    return cycle


def update_cycle(session: Session, actor: User, cycle: Cycle, values: dict,
                 phases: list[PhaseDays] | None, envelopes: list[EnvelopeValues] | None) -> Cycle:
    """Edit a cycle (locked by the caller). A draft changes freely. Once published: never back
    to draft nor another year; the ballot rule and the envelopes until the vote starts; the
    phases that have started keep their start, and those over their end."""
    policy.require(session, actor, "budget.manage", cycle)
    at = now()
    voting_started = vote_started(cycle, at)
    errors = []
    if cycle.status == "published":
        if values.get("status") == "draft":
            raise Conflict("budget_published")
        if "year" in values and values["year"] != cycle.year:
            errors.append(FieldError("year", "budget_frozen_once_published"))
    if voting_started:
        errors += [FieldError(k, "budget_frozen_after_vote") for k in BALLOT_RULE
                   if k in values and values[k] != getattr(cycle, k)]
        if envelopes is not None:
            errors.append(FieldError("envelopes", "budget_frozen_after_vote"))
    periods = phase_periods(phases) if phases is not None else None
    if periods is not None:
        errors += _started_phases_kept(cycle, periods, at)
    if envelopes is not None:
        check_envelopes(envelopes)
    if errors:
        raise ValidationFailed(errors)
    if "year" in values and values["year"] != cycle.year and session.scalar(
            select(Cycle.id).where(Cycle.year == values["year"], Cycle.id != cycle.id)) is not None:
        raise Conflict("budget_year_taken", {"year": values["year"]})
    before = {k: getattr(cycle, k) for k in values}
    for key in ("year", "title", "description"):
        if key in values:
            setattr(cycle, key, values[key])
    if set(BALLOT_RULE) & set(values):
        merged = {k: values.get(k, getattr(cycle, k)) for k in BALLOT_RULE}
        for key, value in _ballot(merged).items():
            setattr(cycle, key, value)
    if periods is not None:
        cycle.phases = []
        session.flush()
        cycle.phases = [CyclePhase(phase=p, starts_at=s, ends_at=e) for p, s, e in periods]
    if envelopes is not None:
        _replace_envelopes(session, cycle, envelopes)
    if values.get("status") == "published" and cycle.status == "draft":
        cycle.status, cycle.published_at = "published", at
    cycle.updated_at = at
    session.flush()
    session.expire(cycle, ["phases", "envelopes"])
    _audit(session, actor, "budget.edit", "budget_cycle", cycle.id,
           original={k: _plain(v) for k, v in before.items()},
           changes={k: _plain(v) for k, v in values.items()}
           | ({"phases": [d.phase for d in phases]} if phases is not None else {})
           | ({"envelopes": len(envelopes)} if envelopes is not None else {}))
    return cycle


def vote_started(cycle: Cycle, at: datetime) -> bool:
    """From the vote on, the ballot rule and the envelopes stay (what the admin pages show
    read-only)."""
    stage = cycle.phase_at(at)
    return stage in ("vote", "results", "delivery") or (stage == "ended" and cycle.period("vote") is not None)


def _started_phases_kept(cycle: Cycle, periods: list[tuple[str, datetime, datetime]],
                         at: datetime) -> list[FieldError]:
    """The past does not change: a phase that has started keeps its start, one that is over
    keeps its end too."""
    if cycle.status != "published":
        return []
    new = {p: (s, e) for p, s, e in periods}
    for old in cycle.phases:
        if old.starts_at > at:
            continue
        kept = new.get(old.phase)
        if kept is None or kept[0] != old.starts_at or (old.ends_at <= at and kept[1] != old.ends_at):
            return [FieldError("phases", "budget_phase_started", {"phase": old.phase})]
    return []


def _replace_envelopes(session: Session, cycle: Cycle, envelopes: list[EnvelopeValues]) -> None:
    """Envelopes by arrondissement: changed in place (their projects keep them), added, or
    removed when no project is in them (else `envelope_has_projects`)."""
    wanted = {e.arrondissement: e for e in envelopes}
    errors = []
    for current in list(cycle.envelopes):
        given = wanted.pop(current.arrondissement_id, None)
        if given is None:
            if session.scalar(select(Project.id).where(Project.envelope_id == current.id).limit(1)):
                errors.append(FieldError("envelopes", "envelope_has_projects",
                                         {"arrondissement": current.arrondissement_id or "Paris"}))
            else:
                session.delete(current)
            continue
        current.amount_cents, current.popular_share_cents = given.amount_cents, given.popular_share_cents
    if errors:
        raise ValidationFailed(errors)
    session.flush()
    for e in wanted.values():
        session.add(Envelope(cycle_id=cycle.id, arrondissement_id=e.arrondissement,
                             amount_cents=e.amount_cents, popular_share_cents=e.popular_share_cents))
    session.flush()


# ---- projects -----------------------------------------------------------------------------

def _envelope_of(session: Session, cycle: Cycle, geometry: BaseGeometry | None, paris_wide: bool,
                 field: str = "geometry") -> Envelope:
    """The envelope a place falls in: Paris-wide when asked, else its arrondissement's."""
    if paris_wide:
        envelope = cycle.envelope_for(None)
        if envelope is None:
            raise ValidationFailed([FieldError("paris_wide", "no_envelope", {"arrondissement": "Paris"})])
        return envelope
    arrondissement = session.scalar(text(
        "SELECT l.arrondissement_id FROM locate_point(ST_PointOnSurface(ST_GeomFromWKB(:g, 4326))) l"),
        {"g": geometry.wkb})
    envelope = cycle.envelope_for(arrondissement)
    if envelope is None:
        raise ValidationFailed([FieldError(field, "no_envelope", {"arrondissement": arrondissement})])
    return envelope


def _theme_of(session: Session, category_id: int) -> str:
    """A proposal's category as a project's theme: its top-level code."""
    from app.areas.services import category_index

    index = category_index(session)
    cat = index.by_id[category_id]
    return index.by_id[cat.parent_id].code if cat.parent_id else cat.code


def _linkable(session: Session, ids: list[int], field: str) -> list[int]:
    """Visible contributions (proposals or reports), else `unknown_contribution` on each."""
    from app.api.types import exists_in_columns

    wanted = [i for i in ids if exists_in_columns(i)]
    found = set(session.scalars(text(
        "SELECT id FROM contributions WHERE id = ANY(:ids) AND NOT hidden AND withdrawn_at IS NULL"),
        {"ids": wanted})) if wanted else set()
    bad = [FieldError(f"{field}[{i}]", "unknown_contribution") for i, v in enumerate(ids) if v not in found]
    if bad:
        raise ValidationFailed(bad)
    return list(dict.fromkeys(ids))


def submit(session: Session, actor: User, cycle: Cycle, values: dict, geometry: BaseGeometry | None,
           paris_wide: bool, proposal_id: int | None = None, link_ids: list[int] | None = None) -> Project:
    """A resident's project, during the submission phase (the cycle read under a share lock,
    so that a phase change waits for it). From one of their proposals (`proposal_id`): its
    title, description, place and theme unless given, and the proposal (with the reports
    behind it) linked. `values`: title, description, theme, estimated_cost_cents, address."""
    from app.contributions.services import get_visible

    policy.require(session, actor, "budget.submit")
    stage = cycle.phase_at(now())
    if "submit" not in ALLOWED_IN.get(stage, ()):
        raise _refuse_phase(stage)
    links = _linkable(session, link_ids or [], "links")
    values = dict(values)
    if proposal_id is not None:
        from geoalchemy2.shape import to_shape

        from app.api.types import exists_in_columns

        proposal = get_visible(session, "proposal", proposal_id) if exists_in_columns(proposal_id) else None
        if proposal is None:
            raise ValidationFailed([FieldError("proposal", "unknown_proposal")])
        if proposal.author_id != actor.id:
            raise ValidationFailed([FieldError("proposal", "not_your_proposal")])
        values["title"] = values.get("title") or proposal.title
        values["description"] = values.get("description") or proposal.description
        values["theme"] = values.get("theme") or _theme_of(session, proposal.category_id)
        values["address"] = values.get("address") or proposal.address
        if geometry is None and not paris_wide:
            geometry = to_shape(proposal.geom)
        behind = session.scalars(text("""
            SELECT r.id FROM proposal_reports l JOIN contributions r ON r.id = l.report_id
            WHERE l.proposal_id = :p AND NOT r.hidden AND r.withdrawn_at IS NULL ORDER BY r.id"""),
            {"p": proposal.id}).all()
        links = list(dict.fromkeys([proposal.id, *links, *behind]))
    missing = [FieldError(k, "required") for k in ("title", "theme") if not values.get(k)]
    if geometry is None and not paris_wide:
        missing.append(FieldError("geometry", "geometry_missing"))
    if missing:
        raise ValidationFailed(missing)
    envelope = _envelope_of(session, cycle, geometry, paris_wide)
    at = now()
    project = Project(
        cycle_id=cycle.id, envelope_id=envelope.id, title=values["title"][:TITLE_MAX],
        description=(values.get("description") or "")[:DESCRIPTION_MAX], theme=values["theme"],
        geom=from_shape(geometry, srid=4326) if geometry is not None else None,
        located_by="map" if geometry is not None else None,
        address=(values.get("address") or None), estimated_cost_cents=values.get("estimated_cost_cents"),
        status="submitted", created_by_id=actor.id, created_at=at, updated_at=at)
    session.add(project)
    session.flush()
    session.add(ProjectPerson(project_id=project.id, user_id=actor.id, role="author"))
    for contribution_id in links:
        session.execute(text("""INSERT INTO budget_project_links (project_id, contribution_id)
                                VALUES (:p, :c) ON CONFLICT DO NOTHING"""),
                        {"p": project.id, "c": contribution_id})
    session.flush()
    session.expire(project, ["people", "arrondissement_id", "quartier_id"])
    return project


def update_project(session: Session, actor: User, project: Project, values: dict,
                   geometry: BaseGeometry | None = None, paris_wide: bool | None = None) -> Project:
    """Edit a project (locked by the caller): its authors during the submission phase; planners
    until the vote (co-construction rewrites merged projects). Moving it chooses its envelope
    again. `geometry` None and `paris_wide` None: the place does not change."""
    cycle, planner = _editable(session, actor, project)
    before = {k: getattr(project, k) for k in values}
    for key, value in values.items():
        setattr(project, key, value if key != "description" else (value or ""))
    if geometry is not None or paris_wide is not None:
        wide = bool(paris_wide) if paris_wide is not None else \
            cycle.envelope_for(None) is not None and project.envelope_id == cycle.envelope_for(None).id
        if geometry is None and not wide and project.geom is None:
            raise ValidationFailed([FieldError("geometry", "geometry_missing")])
        if geometry is not None:
            project.geom, project.located_by = from_shape(geometry, srid=4326), "map"
            project.geom_approximate = False
        shape = geometry
        if shape is None and not wide:
            from geoalchemy2.shape import to_shape

            shape = to_shape(project.geom)
        project.envelope_id = _envelope_of(session, cycle, shape, wide).id
    project.updated_at = now()
    session.flush()
    session.expire(project, ["arrondissement_id", "quartier_id"])
    if planner and actor.id not in project.author_ids:
        _audit(session, actor, "budget.project.edit", "budget_project", project.id,
               original={k: _plain(v) for k, v in before.items()},
               changes={k: _plain(v) for k, v in values.items()}
               | ({"place": True} if geometry is not None or paris_wide is not None else {}))
    return project


def _editable(session: Session, actor: User, project: Project) -> tuple[Cycle, bool]:
    """A project its authors may change during the submission phase, and planners until the
    vote; the cycle (share-locked) and whether the actor acts as a planner."""
    policy.require(session, actor, "budget.edit", project)
    cycle = get_cycle(session, project.cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    planner = policy.allows(session, actor, "budget.study", project)
    if stage not in (("submission", "co_construction", "feasibility") if planner else ("submission",)):
        raise _refuse_phase(stage)
    if project.status not in (OPEN_STATUSES if planner else ("submitted",)):
        raise Conflict("budget_project_status", {"status": project.status}, extra={"project_status": project.status})
    return cycle, planner


# ---- photos -------------------------------------------------------------------------------------

PHOTOS_MAX = {"project": 5, "delivery": 12}


def photo_stage(session: Session, actor: User, project: Project) -> str:
    """Which photos the actor may add to (or remove from) the project now, or a refusal: a
    winner's delivery photos are the city's (planners, from the results on); before the vote, a
    project's own photos follow its edits (authors in submission, planners until the vote).
    Asked before a photo is stored."""
    if project.status == "won":
        policy.require(session, actor, "budget.study", project)
        return "delivery"
    _editable(session, actor, project)
    return "project"


def add_photo(session: Session, actor: User, project: Project, stage: str, sha256: str) -> None:
    """Add a stored photo (the same one again: nothing changes); at most PHOTOS_MAX a stage."""
    count = session.scalar(text("SELECT count(*) FROM budget_project_photos WHERE project_id = :p AND stage = :s "
                                "AND sha256 <> :h"), {"p": project.id, "s": stage, "h": sha256})
    if count >= PHOTOS_MAX[stage]:
        raise ValidationFailed([FieldError("photo", "too_many_project_photos", {"max": PHOTOS_MAX[stage]})])
    session.execute(text("""INSERT INTO budget_project_photos (project_id, sha256, stage, added_by_id)
                            VALUES (:p, :h, :s, :u) ON CONFLICT DO NOTHING"""),
                    {"p": project.id, "h": sha256, "s": stage, "u": actor.id})
    project.updated_at = now()
    session.flush()
    if stage == "delivery":
        _audit(session, actor, "budget.photo.add", "budget_project", project.id, changes={"sha256": sha256})


def remove_photo(session: Session, actor: User, project: Project, sha256: str) -> None:
    stage = photo_stage(session, actor, project)
    gone = session.execute(text("DELETE FROM budget_project_photos WHERE project_id = :p AND sha256 = :h "
                                "AND stage = :s RETURNING 1"), {"p": project.id, "h": sha256, "s": stage}).first()
    if gone is None:
        raise NotFound("photo_not_found")
    project.updated_at = now()
    session.flush()
    if stage == "delivery":
        _audit(session, actor, "budget.photo.remove", "budget_project", project.id, changes={"sha256": sha256})


def photos_of(session: Session, project_id: int) -> list[dict]:
    return [{"url": f"/media/photos/{r.sha256}.jpg", "thumbnail_url": f"/media/photos/{r.sha256}.thumb.jpg",
             "sha256": r.sha256, "stage": r.stage}
            for r in session.execute(text("SELECT sha256, stage FROM budget_project_photos WHERE project_id = :p "
                                          "ORDER BY stage DESC, created_at, sha256"), {"p": project_id})]


def supporters_count(session: Session, project_id: int) -> int:
    return session.scalar(text("SELECT count(*) FROM budget_project_people WHERE project_id = :p "
                               "AND role = 'supporter'"), {"p": project_id})


def support(session: Session, actor: User, project: Project, on: bool) -> int:
    """Support a project (or withdraw the support) while the cycle takes supports; again is
    the same. Returns the count of supporters."""
    policy.require(session, actor, "budget.submit")
    cycle = get_cycle(session, project.cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    if "support" not in ALLOWED_IN.get(stage, ()):
        raise _refuse_phase(stage)
    if project.status == "merged":
        raise Conflict("budget_project_merged", {"into": project.merged_into_id},
                       extra={"merged_into": project.merged_into_id})
    if on:
        session.execute(text("""INSERT INTO budget_project_people (project_id, user_id, role)
                                VALUES (:p, :u, 'supporter') ON CONFLICT DO NOTHING"""),
                        {"p": project.id, "u": actor.id})
    else:
        session.execute(text("DELETE FROM budget_project_people WHERE project_id = :p AND user_id = :u "
                             "AND role = 'supporter'"), {"p": project.id, "u": actor.id})
    session.flush()
    return supporters_count(session, project.id)


def study(session: Session, actor: User, project: Project, feasible: bool, cost_cents: int | None,
          reason: str | None) -> Project:
    """The city's feasibility study, during the feasibility phase: feasible with its cost
    estimate, or not feasible with a public reason (decided again as often as needed in the
    phase). Only feasible projects go to the ballot."""
    policy.require(session, actor, "budget.study", project)
    cycle = get_cycle(session, project.cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    if stage != "feasibility":
        raise _refuse_phase(stage)
    if project.status not in OPEN_STATUSES:
        raise Conflict("budget_project_status", {"status": project.status}, extra={"project_status": project.status})
    if feasible and cost_cents is None:
        raise ValidationFailed([FieldError("cost_cents", "required")])
    if not feasible and not (reason or "").strip():
        raise ValidationFailed([FieldError("reason", "required")])
    before = {"status": project.status, "cost_cents": project.feasibility_cost_cents,
              "reason": project.feasibility_reason}
    at = now()
    project.status = "feasible" if feasible else "not_feasible"
    project.feasibility_cost_cents = cost_cents if feasible else None
    project.feasibility_reason = None if feasible else reason
    project.studied_at = project.updated_at = at
    session.flush()
    _audit(session, actor, "budget.feasibility", "budget_project", project.id, original=before,
           changes={"status": project.status, "cost_cents": project.feasibility_cost_cents,
                    "reason": project.feasibility_reason})
    return project


def merge(session: Session, actor: User, project_id: int, into_id: int) -> tuple[Project, Project]:
    """Merge a project into another of the same envelope during co-construction. Every author
    and supporter of the merged project becomes one of the surviving project (a person already
    there in that role stays once), and so do the proposals and reports it grew from; the
    merged project stays readable, pointing to the survivor. Both rows are locked in id order
    (two crossing merges cannot deadlock)."""
    from app.api.types import exists_in_columns

    ids = (project_id, into_id) if exists_in_columns(into_id) else (project_id,)
    locked = {p.id: p for p in session.scalars(
        select(Project).where(Project.id.in_(ids)).order_by(Project.id)
        .with_for_update(of=Project).execution_options(populate_existing=True))}
    project = locked.get(project_id)
    if project is None:
        raise NotFound("budget_project_not_found")
    get_project(session, project_id, actor)  # its cycle readable (else 404)
    policy.require(session, actor, "budget.study", project)
    if project_id == into_id:
        raise ValidationFailed([FieldError("into", "merge_into_itself")])
    target = locked.get(into_id)
    if target is None or target.cycle_id != project.cycle_id:
        raise ValidationFailed([FieldError("into", "unknown_budget_project")])
    cycle = get_cycle(session, project.cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    if stage != "co_construction":
        raise _refuse_phase(stage)
    for p in (project, target):
        if p.status not in OPEN_STATUSES:
            raise Conflict("budget_project_status", {"status": p.status}, extra={"project_status": p.status})
    if target.envelope_id != project.envelope_id:
        raise ValidationFailed([FieldError("into", "merge_other_envelope")])
    params = {"from": project.id, "into": target.id}
    session.execute(text("""
        INSERT INTO budget_project_people (project_id, user_id, role, created_at)
        SELECT :into, user_id, role, created_at FROM budget_project_people WHERE project_id = :from
        ON CONFLICT DO NOTHING"""), params)
    session.execute(text("""
        INSERT INTO budget_project_links (project_id, contribution_id, created_at)
        SELECT :into, contribution_id, created_at FROM budget_project_links WHERE project_id = :from
        ON CONFLICT DO NOTHING"""), params)
    # projects merged into this one before now point to the survivor
    session.execute(text("UPDATE budget_projects SET merged_into_id = :into WHERE merged_into_id = :from"),
                    params)
    at = now()
    project.status, project.merged_into_id, project.updated_at = "merged", target.id, at
    target.updated_at = at
    session.flush()
    session.expire(target, ["people"])
    _audit(session, actor, "budget.merge", "budget_project", project.id, changes={"into": target.id})
    return project, target


def deliver(session: Session, actor: User, project: Project, status: str | None,
            dates: dict[str, date | None]) -> Project:
    """A won project's delivery: its status and dates (the whole state: a date left out is
    none), from the results on, and for the past editions."""
    policy.require(session, actor, "budget.study", project)
    cycle = get_cycle(session, project.cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    if stage not in ("results", "delivery", "ended"):
        raise _refuse_phase(stage)
    if project.status != "won":
        raise Conflict("budget_project_status", {"status": project.status}, extra={"project_status": project.status})
    before = {"status": project.delivery_status,
              **{k: (getattr(project, k).isoformat() if getattr(project, k) else None) for k in DELIVERY_DATES}}
    project.delivery_status = status
    for key in DELIVERY_DATES:
        setattr(project, key, dates.get(key))
    project.updated_at = now()
    session.flush()
    _audit(session, actor, "budget.delivery", "budget_project", project.id, original=before,
           changes={"status": status, **{k: (v.isoformat() if v else None) for k, v in dates.items()}})
    return project


def _plain(value):
    return value if isinstance(value, str | int | float | bool | list | type(None)) else str(value)


def _audit(session: Session, actor: User, action: str, subject_type: str, subject_id: int, **details) -> None:
    from app.moderation.services import audit

    audit(session, actor, action, subject_type, subject_id, None, **details)


# ---- the reads behind the API and the pages -------------------------------------------------

def theme_labels(session: Session, lang: str) -> dict[str, str]:
    from app.areas.services import category_index

    index = category_index(session)
    return {c.code: (c.label_en if lang == "en" else c.label_fr) for c in index.by_id.values()
            if c.kind == "proposal"}


def cycle_json(session: Session, cycle: Cycle, reader: User | None = None) -> dict:
    """A cycle as the API says it: its stage now, what a resident (and a planner) can do in it,
    its phases, and its envelopes with their projects and the cost of their winners."""
    at = now()
    stage = cycle.phase_at(at)
    counts = {r.envelope_id: r for r in session.execute(text("""
        SELECT envelope_id, count(*) FILTER (WHERE status <> 'merged') AS projects,
               count(*) FILTER (WHERE status = 'won') AS won,
               coalesce(sum(coalesce(feasibility_cost_cents, estimated_cost_cents))
                        FILTER (WHERE status = 'won'), 0) AS won_cents
        FROM budget_projects WHERE cycle_id = :c GROUP BY envelope_id"""), {"c": cycle.id})}

    def envelope(e: Envelope) -> dict:
        row = counts.get(e.id)
        return {"id": e.id, "arrondissement": e.arrondissement_id, "amount_cents": e.amount_cents,
                "popular_share_cents": e.popular_share_cents, "projects": row.projects if row else 0,
                "won": row.won if row else 0, "won_cents": int(row.won_cents) if row else 0}

    return {
        "id": cycle.id, "year": cycle.year, "title": cycle.title, "description": cycle.description,
        "status": cycle.status, "imported": cycle.imported, "stage": stage,
        "can": list(ALLOWED_IN.get(stage, ())), "planners_can": list(PLANNERS_IN.get(stage, ())),
        "ballot_method": cycle.ballot_method, "max_choices": cycle.max_choices, "grades": cycle.grades,
        "winners_rule": cycle.winners_rule, "counted": any(e.counted_at is not None for e in cycle.envelopes),
        "phases": [{"phase": p.phase, "starts_at": p.starts_at.isoformat(), "ends_at": p.ends_at.isoformat(),
                    "starts_on": paris_day(p.starts_at),
                    "ends_on": paris_day(p.ends_at - timedelta(microseconds=1))}
                   for p in sorted(cycle.phases, key=lambda p: p.starts_at)],
        "envelopes": [envelope(e) for e in sorted(cycle.envelopes, key=lambda e: e.arrondissement_id or 0)],
        "projects_count": sum(r.projects for r in counts.values()),
        "published_at": cycle.published_at.isoformat() if cycle.published_at else None,
    }


@dataclass
class ProjectFilters:
    cycle_id: int | None = None
    statuses: list[str] | None = None
    years: list[int] | None = None
    arrondissements: list[int] | None = None
    themes: list[str] | None = None
    delivery: list[str] | None = None  # delivery statuses, `none` for a won project not started
    placed: bool | None = None
    limit: int = 100
    cursor: tuple[datetime, int] | None = None


PROJECT_ROWS = """
    SELECT p.id, p.cycle_id, k.year, p.title, p.status, p.theme, p.arrondissement_id, p.quartier_id,
           e.arrondissement_id AS envelope_arrondissement, p.estimated_cost_cents, p.feasibility_cost_cents,
           p.delivery_status, p.studies_on, p.procedures_on, p.works_on, p.delivery_planned_on, p.opened_on,
           p.located_by, p.geom_approximate, p.address, p.popular_quartier, p.department,
           p.merged_into_id, p.created_at, ST_AsGeoJSON(p.geom, 6) AS geometry,
           (SELECT count(*) FROM budget_project_people s WHERE s.project_id = p.id
            AND s.role = 'supporter') AS supporters
    FROM budget_projects p
    JOIN budget_cycles k ON k.id = p.cycle_id
    JOIN budget_envelopes e ON e.id = p.envelope_id
"""


def project_rows(session: Session, filters: ProjectFilters, reader: User | None) -> tuple[list, tuple | None]:
    """A page of projects, newest first (keyset on creation time and id), and the next page's
    cursor (None on the last page). Projects of draft cycles for admins only."""
    where, params = [], {"limit": filters.limit + 1}
    if not can_manage(session, reader):
        where.append("k.status = 'published'")
    if filters.cycle_id is not None:
        where.append("p.cycle_id = :cycle")
        params["cycle"] = filters.cycle_id
    for column, key, values in (("p.status", "statuses", filters.statuses), ("k.year", "years", filters.years),
                                ("p.arrondissement_id", "arrondissements", filters.arrondissements),
                                ("p.theme", "themes", _with_subthemes(session, filters.themes))):
        if values:
            where.append(f"{column} = ANY(:{key})")
            params[key] = list(values)
    if filters.delivery:
        named = [d for d in filters.delivery if d != "none"]
        either = ["p.delivery_status = ANY(:delivery)"] if named else []
        if "none" in filters.delivery:
            either.append("(p.status = 'won' AND p.delivery_status IS NULL)")
        where.append("(" + " OR ".join(either) + ")")
        params["delivery"] = named
    if filters.placed is not None:
        where.append("p.geom IS NOT NULL" if filters.placed else "p.geom IS NULL")
    if filters.cursor is not None:
        where.append("(p.created_at, p.id) < (:at, :id)")
        params["at"], params["id"] = filters.cursor
    sql = PROJECT_ROWS + (" WHERE " + " AND ".join(where) if where else "") + \
        " ORDER BY p.created_at DESC, p.id DESC LIMIT :limit"
    rows = session.execute(text(sql), params).all()
    more = len(rows) > filters.limit
    rows = rows[:filters.limit]
    return rows, ((rows[-1].created_at, rows[-1].id) if more and rows else None)


def _with_subthemes(session: Session, themes: list[str] | None) -> list[str] | None:
    """A theme and its sub-themes (`mobilite` takes `mobilite.velo`)."""
    if not themes:
        return themes
    from app.areas.services import category_index

    index = category_index(session)
    return sorted({index.by_id[i].code for code in themes for i in index.subtree_ids(code, "proposal") or ()}
                  | set(themes))


def project_properties(row, labels: dict[str, str]) -> dict:
    cost = row.feasibility_cost_cents if row.feasibility_cost_cents is not None else row.estimated_cost_cents
    return {
        "title": row.title, "cycle_id": row.cycle_id, "year": row.year, "status": row.status,
        "theme": row.theme, "theme_label": labels.get(row.theme) if row.theme else None,
        "paris_wide": row.envelope_arrondissement is None, "arrondissement": row.arrondissement_id,
        "quartier": row.quartier_id, "envelope_arrondissement": row.envelope_arrondissement,
        "estimated_cost_cents": row.estimated_cost_cents, "cost_cents": cost,
        "delivery_status": row.delivery_status,
        **{k: (getattr(row, k).isoformat() if getattr(row, k) else None) for k in DELIVERY_DATES},
        "located_by": row.located_by, "approximate": row.geom_approximate, "address": row.address,
        "popular_quartier": row.popular_quartier, "department": row.department,
        "supporters": row.supporters, "merged_into": row.merged_into_id,
        "url": f"/budget/projects/{row.id}",
    }


def project_feature(row, labels: dict[str, str]) -> dict:
    import json

    return {"type": "Feature", "id": row.id,
            "geometry": json.loads(row.geometry) if row.geometry else None,
            "properties": project_properties(row, labels)}


def one_row(session: Session, project_id: int):
    return session.execute(text(PROJECT_ROWS + " WHERE p.id = :id"), {"id": project_id}).one()


def project_detail(session: Session, project: Project, reader: User | None, lang: str) -> dict:
    """One project as a Feature with everything public about it: its description, the city's
    feasibility study, its authors by public name (never an e-mail or an id), the proposals
    and reports it grew from, the projects merged into it."""
    from app.accounts.mydata import FORMER_ACCOUNT

    row = one_row(session, project.id)
    out = project_feature(row, theme_labels(session, lang))
    authors = session.execute(text("""
        SELECT u.display_name, u.deleted_at FROM budget_project_people p JOIN users u ON u.id = p.user_id
        WHERE p.project_id = :p AND p.role = 'author' ORDER BY p.created_at, u.id"""), {"p": project.id}).all()
    links = session.execute(text("""
        SELECT c.id, c.kind, c.title, c.status FROM budget_project_links l
        JOIN contributions c ON c.id = l.contribution_id
        WHERE l.project_id = :p AND NOT c.hidden AND c.withdrawn_at IS NULL
        ORDER BY c.kind, c.id"""), {"p": project.id}).all()  # proposals, then reports
    merged = session.execute(text("SELECT id, title FROM budget_projects WHERE merged_into_id = :p ORDER BY id"),
                             {"p": project.id}).all()
    mine = {"author": False, "supporting": False}
    if reader is not None:
        roles = set(session.scalars(text("SELECT role FROM budget_project_people WHERE project_id = :p "
                                         "AND user_id = :u"), {"p": project.id, "u": reader.id}))
        mine = {"author": "author" in roles, "supporting": "supporter" in roles}
    feasible = {"feasible": True, "not_feasible": False}.get(project.status)
    if project.status in ("won", "lost") and project.feasibility_cost_cents is not None:
        feasible = True
    out["properties"].update({
        "description": project.description,
        "feasibility": {"feasible": feasible, "cost_cents": project.feasibility_cost_cents,
                        "reason": project.feasibility_reason,
                        "studied_at": project.studied_at.isoformat() if project.studied_at else None},
        "source_theme": project.source_theme,
        "authors": [FORMER_ACCOUNT if a.deleted_at else a.display_name for a in authors],
        "links": [{"id": r.id, "kind": r.kind, "title": r.title, "status": r.status, "url": f"/c/{r.id}"}
                  for r in links],
        "merged_from": [{"id": r.id, "title": r.title} for r in merged],
        "photos": photos_of(session, project.id),
        "source": {"dataset": project.source, "id": project.source_id, "url": project.source_url,
                   "progress": project.source_progress} if project.source else None,
        "mine": mine,
        "created_at": project.created_at.isoformat(), "updated_at": project.updated_at.isoformat(),
    })
    return out


def merge_candidates(session: Session, project: Project) -> list:
    """The projects of its envelope it may merge into (id, title)."""
    return session.execute(text(
        "SELECT id, title FROM budget_projects WHERE envelope_id = :e AND id <> :p AND status = ANY(:s) "
        "ORDER BY title, id"), {"e": project.envelope_id, "p": project.id, "s": list(OPEN_STATUSES)}).all()


def proposals_to_start_from(session: Session, user: User) -> list:
    """A person's visible proposals, newest first (id, title): what a project may start from."""
    return session.execute(text(
        "SELECT id, title FROM contributions WHERE author_id = :u AND kind = 'proposal' AND NOT hidden "
        "AND withdrawn_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 100"), {"u": user.id}).all()


def projects_of_contribution(session: Session, contribution_id: int) -> list[dict]:
    """The budget projects a proposal or report became (published cycles only)."""
    rows = session.execute(text("""
        SELECT p.id, p.title, p.status, k.year FROM budget_project_links l
        JOIN budget_projects p ON p.id = l.project_id JOIN budget_cycles k ON k.id = p.cycle_id
        WHERE l.contribution_id = :c AND k.status = 'published' ORDER BY p.id"""),
        {"c": contribution_id}).all()
    return [{"id": r.id, "title": r.title, "status": r.status, "year": r.year} for r in rows]
