"""The participatory budget's vote, count and results (migration f1a2b3c00018).

Secrecy: the roll (`budget_voters`) says who voted, Paris-wide and in which arrondissement —
what a French electoral roll's signatures say — and nothing about how. A ballot carries no
person: `voter` is HMAC-SHA256 over the cycle and the person under a key derived from the
app's SECRET_KEY (`ballot_key`), so only a request signed in as the voter finds their ballot
again to show or change it; the database alone (a dump, a replica, a DBA) cannot tie a ballot
to a person, and neither can any page or API. A random receipt lets the voter find their
ballot in the published count and in the Pabulib export. No ballot has a timestamp and their
ids are random. Rotating SECRET_KEY during a vote leaves earlier voters unable to change their
ballot (`ballot_key_changed`), never able to vote twice (the roll).

The count runs once the vote is over (an admin, or `flask budget count`): per envelope, the
rule Paris and CONSUL use (greedy by votes while the money lasts) and the Method of Equal
Shares (pabutools) side by side, and the majority-judgment ranking when that is the method;
the cycle's `winners_rule` says which one makes projects `won`. Money is counted in whole
euros, as Pabulib files carry it: a project's cost rounded up, an envelope's amount down.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.budget import rules
from app.budget.models import Cycle, Envelope
from app.budget.services import _audit, _refuse_phase, get_cycle, now
from app.errors import Conflict, FieldError, NotFound, ValidationFailed

# the projects a ballot may name: feasible ones during the vote, won or lost once counted
ON_BALLOT = ("feasible", "won", "lost")
COUNTABLE_STAGES = ("results", "delivery", "ended")


def ballot_key(secret: str) -> bytes:
    """The ballots' own key, derived from SECRET_KEY (never stored)."""
    return hmac.new(secret.encode(), b"cartagora/budget-ballots/v1", hashlib.sha256).digest()


def _voter(key: bytes, cycle_id: int, user_id: int) -> str:
    return hmac.new(key, f"{cycle_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


def _receipt() -> str:
    """12 characters of base32 (60 random bits): easy to read out, impossible to guess."""
    return base64.b32encode(secrets.token_bytes(10)).decode()[:12]


def euros_up(cents: int) -> int:
    return -(-cents // 100)


@dataclass
class Choice:
    project: int
    grade: int | None = None


def envelope_of(cycle: Cycle, envelope_id: int) -> Envelope:
    envelope = next((e for e in cycle.envelopes if e.id == envelope_id), None)
    if envelope is None:
        raise NotFound("budget_envelope_not_found")
    return envelope


# ---- the ballot paper -------------------------------------------------------------------------

def ballot_projects(session: Session, envelope_id: int) -> list:
    """The projects on an envelope's ballot, by title: a neutral order every voter sees."""
    return list(session.execute(text(f"""
        SELECT id, title, theme, coalesce(feasibility_cost_cents, estimated_cost_cents) AS cost_cents,
               arrondissement_id, status
        FROM budget_projects
        WHERE envelope_id = :e AND status IN {ON_BALLOT}
        ORDER BY lower(title), id"""), {"e": envelope_id}))


def _check(cycle: Cycle, envelope: Envelope, on_ballot: dict[int, int], choices: list[Choice]) -> None:
    """The ballot rule at its limits: at least one choice, each project once and on this
    envelope's ballot; approval at most `max_choices`; knapsack within the envelope's money;
    majority judgment a grade in 0…grades−1 for each."""
    errors: list[FieldError] = []
    graded = cycle.ballot_method == "majority_judgment"
    field = "grades" if graded else "projects"
    wrong = "projects" if graded else "grades"
    if any((c.grade is None) == graded for c in choices):  # the other method's member
        raise ValidationFailed([FieldError(wrong, "not_this_ballot_method", {"method": cycle.ballot_method})])
    if not choices:
        raise ValidationFailed([FieldError(field, "ballot_empty")])
    seen: set[int] = set()
    for i, choice in enumerate(choices):
        where = f"{field}[{i}].project" if graded else f"{field}[{i}]"
        if choice.project in seen:
            errors.append(FieldError(where, "duplicate_choice", {"project": choice.project}))
        seen.add(choice.project)
        if choice.project not in on_ballot:
            errors.append(FieldError(where, "not_on_ballot", {"project": choice.project}))
        if graded and not 0 <= (choice.grade if choice.grade is not None else -1) < cycle.grades:
            errors.append(FieldError(f"{field}[{i}].grade", "grade_out_of_range", {"max": cycle.grades - 1}))
    if errors:
        raise ValidationFailed(errors)
    if cycle.ballot_method == "approval" and cycle.max_choices and len(choices) > cycle.max_choices:
        raise ValidationFailed([FieldError("projects", "too_many_choices", {"max": cycle.max_choices})])
    if cycle.ballot_method == "knapsack":
        total = sum(on_ballot[c.project] for c in choices)
        if total > envelope.amount_cents:
            raise ValidationFailed([FieldError("projects", "over_budget", {
                "total": f"{total / 100:,.0f} €".replace(",", " "),
                "amount": f"{envelope.amount_cents / 100:,.0f} €".replace(",", " ")})])


def cast(session: Session, key: bytes, actor: User, cycle_id: int, envelope_id: int,
         choices: list[Choice]) -> dict:
    """Cast or change the actor's ballot in one envelope during the vote. The roll row is the
    lock: two ballots of one person at once are one after the other, and a second
    arrondissement is a 409 `ballot_other_arrondissement` (withdraw the first to change)."""
    policy.require(session, actor, "budget.vote")
    cycle = get_cycle(session, cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    if stage != "vote":
        raise _refuse_phase(stage)
    envelope = envelope_of(cycle, envelope_id)
    on_ballot = {r.id: r.cost_cents or 0 for r in ballot_projects(session, envelope.id)}
    _check(cycle, envelope, on_ballot, choices)
    paris_wide = envelope.arrondissement_id is None
    new_voter = session.execute(text("""
        INSERT INTO budget_voters (cycle_id, user_id, paris_wide, arrondissement_id)
        VALUES (:c, :u, :pw, :a) ON CONFLICT DO NOTHING RETURNING 1"""),
        {"c": cycle.id, "u": actor.id, "pw": paris_wide, "a": envelope.arrondissement_id}).first() is not None
    roll = session.execute(text("""
        SELECT arrondissement_id FROM budget_voters WHERE cycle_id = :c AND user_id = :u AND paris_wide = :pw
        FOR UPDATE"""), {"c": cycle.id, "u": actor.id, "pw": paris_wide}).one()
    if roll.arrondissement_id != envelope.arrondissement_id:
        raise Conflict("ballot_other_arrondissement", {"arrondissement": roll.arrondissement_id},
                       extra={"arrondissement": roll.arrondissement_id})
    voter = _voter(key, cycle.id, actor.id)
    ballot_id = session.scalar(text("""
        SELECT id FROM budget_ballots WHERE cycle_id = :c AND voter = :v AND paris_wide = :pw"""),
        {"c": cycle.id, "v": voter, "pw": paris_wide})
    if ballot_id is None:
        if not new_voter:  # on the roll, yet no ballot under this key: SECRET_KEY changed
            raise Conflict("ballot_key_changed")
        ballot_id = session.scalar(text("""
            INSERT INTO budget_ballots (cycle_id, envelope_id, paris_wide, voter, receipt)
            VALUES (:c, :e, :pw, :v, :r) RETURNING id"""),
            {"c": cycle.id, "e": envelope.id, "pw": paris_wide, "v": voter, "r": _receipt()})
    else:
        session.execute(text("DELETE FROM budget_ballot_choices WHERE ballot_id = :b"), {"b": ballot_id})
    session.execute(text("""
        INSERT INTO budget_ballot_choices (ballot_id, envelope_id, project_id, grade)
        VALUES (:b, :e, :p, :g)"""),
        [{"b": ballot_id, "e": envelope.id, "p": c.project, "g": c.grade} for c in choices])
    session.flush()
    return own_ballots(session, key, actor, cycle)


def withdraw(session: Session, key: bytes, actor: User, cycle_id: int, envelope_id: int) -> dict:
    """Take back one's ballot in an envelope during the vote (to vote in another
    arrondissement, or not at all): the ballot and the roll's line go together."""
    policy.require(session, actor, "budget.vote")
    cycle = get_cycle(session, cycle_id, actor, share=True)
    stage = cycle.phase_at(now())
    if stage != "vote":
        raise _refuse_phase(stage)
    envelope = envelope_of(cycle, envelope_id)
    paris_wide = envelope.arrondissement_id is None
    roll = session.execute(text("""
        DELETE FROM budget_voters WHERE cycle_id = :c AND user_id = :u AND paris_wide = :pw
        AND arrondissement_id IS NOT DISTINCT FROM :a RETURNING 1"""),
        {"c": cycle.id, "u": actor.id, "pw": paris_wide, "a": envelope.arrondissement_id}).first()
    if roll is None:
        raise NotFound("ballot_not_found")
    session.execute(text("DELETE FROM budget_ballots WHERE cycle_id = :c AND voter = :v AND envelope_id = :e"),
                    {"c": cycle.id, "v": _voter(key, cycle.id, actor.id), "e": envelope.id})
    session.flush()
    return own_ballots(session, key, actor, cycle)


def own_ballots(session: Session, key: bytes, actor: User, cycle: Cycle) -> dict:
    """The actor's own ballots in a cycle: only their signed-in request can find them."""
    rows = session.execute(text("""
        SELECT b.id, b.envelope_id, b.receipt, e.arrondissement_id, e.amount_cents,
               c.project_id, c.grade, p.title, coalesce(p.feasibility_cost_cents, p.estimated_cost_cents) AS cost
        FROM budget_ballots b JOIN budget_envelopes e ON e.id = b.envelope_id
        JOIN budget_ballot_choices c ON c.ballot_id = b.id JOIN budget_projects p ON p.id = c.project_id
        WHERE b.cycle_id = :c AND b.voter = :v
        ORDER BY b.paris_wide DESC, lower(p.title), p.id"""),
        {"c": cycle.id, "v": _voter(key, cycle.id, actor.id)})
    ballots: dict = {}
    for r in rows:
        ballot = ballots.setdefault(r.id, {"envelope": r.envelope_id, "arrondissement": r.arrondissement_id,
                                           "receipt": r.receipt, "choices": [], "total_cents": 0})
        ballot["choices"].append({"project": r.project_id, "title": r.title, "grade": r.grade,
                                  "cost_cents": r.cost})
        ballot["total_cents"] += r.cost or 0
    roll = session.scalar(text("""
        SELECT arrondissement_id FROM budget_voters WHERE cycle_id = :c AND user_id = :u AND NOT paris_wide"""),
        {"c": cycle.id, "u": actor.id})
    return {"cycle": cycle.id, "arrondissement": roll, "ballots": list(ballots.values())}


# ---- the count --------------------------------------------------------------------------------

def _grouped(session: Session, envelope_id: int, graded: bool) -> dict:
    """The envelope's ballots, identical ones grouped with how many voters cast them (SQL
    does the grouping: 200,000 ballots arrive as a few thousand rows)."""
    rows = session.execute(text("""
        SELECT projects, grades, count(*) AS n FROM (
            SELECT array_agg(project_id ORDER BY project_id) AS projects,
                   array_agg(grade ORDER BY project_id) AS grades
            FROM budget_ballot_choices WHERE envelope_id = :e GROUP BY ballot_id) b
        GROUP BY projects, grades"""), {"e": envelope_id})
    if graded:
        return {frozenset(zip(r.projects, r.grades, strict=True)): r.n for r in rows}
    return {frozenset(r.projects): r.n for r in rows}


def count_envelope(session: Session, cycle: Cycle, envelope: Envelope) -> dict:
    """Count one envelope and store each project's result; returns the winners by each rule."""
    graded = cycle.ballot_method == "majority_judgment"
    projects = ballot_projects(session, envelope.id)
    items = [rules.Item(p.id, euros_up(p.cost_cents or 0), p.title) for p in projects]
    budget = envelope.amount_cents // 100
    ballots = session.scalar(text("SELECT count(*) FROM budget_ballots WHERE envelope_id = :e"),
                             {"e": envelope.id})
    votes = dict(session.execute(text("""
        SELECT project_id, count(*) FROM budget_ballot_choices WHERE envelope_id = :e GROUP BY project_id"""),
        {"e": envelope.id}).all())
    grades: dict[int, list[int]] = {}
    ranking: dict[int, tuple[int, int]] = {}
    if graded:
        grades = {i.id: [0] * cycle.grades for i in items}
        for pid, grade, n in session.execute(text("""
                SELECT project_id, grade, count(*) FROM budget_ballot_choices WHERE envelope_id = :e
                GROUP BY project_id, grade"""), {"e": envelope.id}):
            grades[pid][grade] = n
        for counts in grades.values():  # ungraded counts as the worst grade
            counts[0] += ballots - sum(counts)
        decisions = rules.greedy_by_judgment(items, budget, grades)
        ranking = {j.id: (j.grade, n) for n, j in enumerate(rules.majority_ranking(grades), start=1)}
    else:
        decisions = rules.greedy_by_votes(items, budget, votes)
    mes, added = rules.equal_shares_completed(items, budget, _grouped(session, envelope.id, graded))
    session.execute(text("DELETE FROM budget_results WHERE envelope_id = :e"), {"e": envelope.id})
    if decisions:
        session.execute(text("""
            INSERT INTO budget_results (project_id, envelope_id, votes, grades, cost_euros, greedy_rank,
                                        left_before_euros, greedy_won, mes_won, majority_grade, majority_rank)
            VALUES (:p, :e, :votes, :grades, :cost, :rank, :left, :won, :mes, :mg, :mr)"""),
            [{"p": d.id, "e": envelope.id, "votes": votes.get(d.id, 0), "grades": grades.get(d.id),
              "cost": d.cost, "rank": d.rank, "left": d.left_before, "won": d.won, "mes": d.id in mes,
              "mg": ranking.get(d.id, (None,))[0], "mr": ranking.get(d.id, (None, None))[1]}
             for d in decisions])
    greedy = {d.id for d in decisions if d.won}
    winners = greedy if cycle.winners_rule == "greedy" else mes
    for p in projects:
        session.execute(text("UPDATE budget_projects SET status = :s, updated_at = now() WHERE id = :p"),
                        {"s": "won" if p.id in winners else "lost", "p": p.id})
    envelope.ballots_counted, envelope.counted_at, envelope.mes_added_euros = ballots, now(), added
    session.flush()
    envelope.pabulib = _pabulib_file(session, cycle, envelope)
    return {"envelope": envelope.id, "ballots": ballots, "greedy": sorted(greedy), "equal_shares": sorted(mes)}


def count(session: Session, actor: User | None, cycle_id: int, *, command_line: bool = False) -> list[dict]:
    """Count every envelope of a cycle once its vote is over (again: the same result, as the
    ballots no longer change). An admin, or the operator's `flask budget count` (no actor)."""
    if not command_line:
        policy.require(session, actor, "budget.manage")
    cycle = get_cycle(session, cycle_id, actor, lock=True)
    vote = cycle.period("vote")
    if vote is None or cycle.phase_at(now()) not in COUNTABLE_STAGES:
        raise _refuse_phase(cycle.phase_at(now()))
    if session.scalar(text("SELECT count(*) FROM budget_projects WHERE cycle_id = :c AND delivery_status IS NOT NULL"),
                      {"c": cycle.id}):
        raise Conflict("budget_delivery_started")
    out = [count_envelope(session, cycle, e) for e in cycle.envelopes]
    session.flush()
    _audit(session, actor, "budget.count", "budget_cycle", cycle.id,
           changes={"ballots": sum(o["ballots"] for o in out), "rule": cycle.winners_rule})
    return out


# ---- the results, the export, a receipt --------------------------------------------------------

def counted(cycle: Cycle) -> bool:
    return any(e.counted_at is not None for e in cycle.envelopes)


def results(session: Session, cycle: Cycle) -> dict:
    """Per envelope: its ballots, money and each project's outcome under both rules (and the
    majority-judgment ranking), greedy order first. 409 `budget_not_counted` before the count."""
    if not counted(cycle):
        raise Conflict("budget_not_counted")
    rows = session.execute(text("""
        SELECT r.*, p.title, p.theme, p.arrondissement_id, p.status
        FROM budget_results r JOIN budget_projects p ON p.id = r.project_id
        JOIN budget_envelopes e ON e.id = r.envelope_id
        WHERE e.cycle_id = :c ORDER BY r.envelope_id, r.greedy_rank"""), {"c": cycle.id})
    by_envelope: dict[int, list] = {}
    for r in rows:
        by_envelope.setdefault(r.envelope_id, []).append({
            "id": r.project_id, "title": r.title, "theme": r.theme, "arrondissement": r.arrondissement_id,
            "cost_euros": r.cost_euros, "votes": r.votes, "grades": r.grades, "rank": r.greedy_rank,
            "left_before_euros": r.left_before_euros, "greedy_won": r.greedy_won,
            "equal_shares_won": r.mes_won, "majority_grade": r.majority_grade,
            "majority_rank": r.majority_rank, "won": r.status == "won"})
    envelopes = []
    for e in sorted(cycle.envelopes, key=lambda e: e.arrondissement_id or 0):
        projects = by_envelope.get(e.id, [])
        envelopes.append({
            "id": e.id, "arrondissement": e.arrondissement_id, "amount_euros": e.amount_cents // 100,
            "ballots": e.ballots_counted or 0,
            "counted_at": e.counted_at.isoformat() if e.counted_at else None,
            "greedy": {"winners": sum(p["greedy_won"] for p in projects),
                       "spent_euros": sum(p["cost_euros"] for p in projects if p["greedy_won"])},
            "equal_shares": {"winners": sum(p["equal_shares_won"] for p in projects),
                             "spent_euros": sum(p["cost_euros"] for p in projects if p["equal_shares_won"]),
                             "added_per_voter_euros": e.mes_added_euros or 0},
            "projects": projects})
    return {"cycle": cycle.id, "year": cycle.year, "ballot_method": cycle.ballot_method,
            "grades": cycle.grades, "winners_rule": cycle.winners_rule, "envelopes": envelopes}


def pabulib(session: Session, cycle: Cycle, envelope: Envelope) -> str:
    """The envelope's Pabulib file, as the count wrote it (its ballots no longer change)."""
    if envelope.counted_at is None or envelope.pabulib is None:
        raise Conflict("budget_not_counted")
    return envelope.pabulib


def _pabulib_file(session: Session, cycle: Cycle, envelope: Envelope) -> str:
    """The envelope's anonymised ballots as a Pabulib file, ordered by receipt (random), each
    under its receipt; pabutools reading it back finds the published winners (Equal Shares:
    on the budget plus `equal_shares_added_per_voter` × `num_votes`, the meta says)."""
    graded = cycle.ballot_method == "majority_judgment"
    items = [rules.Item(p.id, euros_up(p.cost_cents or 0), p.title) for p in ballot_projects(session, envelope.id)]
    rows = session.execute(text("""
        SELECT b.receipt, array_agg(c.project_id ORDER BY c.project_id) AS projects,
               array_agg(c.grade ORDER BY c.project_id) AS grades
        FROM budget_ballots b JOIN budget_ballot_choices c ON c.ballot_id = b.id
        WHERE b.envelope_id = :e GROUP BY b.receipt ORDER BY b.receipt"""), {"e": envelope.id}).all()
    ballots = [dict(zip(r.projects, r.grades, strict=True)) if graded else set(r.projects) for r in rows]
    vote = cycle.period("vote")
    meta = {"description": f"{cycle.title} — "
                           f"{'Tout Paris' if envelope.arrondissement_id is None else f'{envelope.arrondissement_id}e arrondissement'}",
            "district": "Paris" if envelope.arrondissement_id is None else str(envelope.arrondissement_id),
            "language": "fr", "edition": str(cycle.year), "currency": "EUR",
            "rule": "greedy" if cycle.winners_rule == "greedy" else "equalshares"}
    if vote is not None:
        meta |= {"date_begin": vote.starts_at.date().isoformat(), "date_end": vote.ends_at.date().isoformat()}
    if cycle.ballot_method == "approval" and cycle.max_choices:
        meta["max_length"] = str(cycle.max_choices)
    if cycle.ballot_method == "knapsack":
        meta["max_sum_cost"] = str(envelope.amount_cents // 100)
    if graded:
        meta |= {"min_points": "0", "max_points": str(cycle.grades - 1), "default_score": "0"}
    meta["equal_shares_added_per_voter"] = str(envelope.mes_added_euros or 0)
    return rules.to_pabulib(items, envelope.amount_cents // 100, ballots, meta, receipts=[r.receipt for r in rows])


def receipt(session: Session, cycle: Cycle, code: str) -> dict:
    """The ballot counted under a receipt, for its voter to check (after the count only)."""
    if not counted(cycle):
        raise Conflict("budget_not_counted")
    rows = session.execute(text("""
        SELECT b.envelope_id, e.arrondissement_id, c.project_id, c.grade, p.title
        FROM budget_ballots b JOIN budget_envelopes e ON e.id = b.envelope_id
        JOIN budget_ballot_choices c ON c.ballot_id = b.id JOIN budget_projects p ON p.id = c.project_id
        WHERE b.cycle_id = :c AND b.receipt = :r ORDER BY lower(p.title), p.id"""),
        {"c": cycle.id, "r": code.strip().upper()}).all()
    if not rows:
        raise NotFound("ballot_not_found")
    return {"receipt": code.strip().upper(), "envelope": rows[0].envelope_id,
            "arrondissement": rows[0].arrondissement_id,
            "choices": [{"project": r.project_id, "title": r.title, "grade": r.grade} for r in rows]}


def voters_count(session: Session, cycle_id: int) -> dict:
    """How many people voted (the roll), Paris-wide and per arrondissement."""
    rows = session.execute(text("""
        SELECT arrondissement_id, count(*) FROM budget_voters WHERE cycle_id = :c GROUP BY arrondissement_id"""),
        {"c": cycle_id}).all()
    return {"paris": next((n for a, n in rows if a is None), 0),
            "arrondissements": {a: n for a, n in rows if a is not None}}
