"""The agents' queue: reports in scope as GeoJSON (stored Feature text), with counts per status."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.areas.services import category_index
from app.contributions.models import REPORT_STATUSES
from app.contributions.queries import EXACT_PLACE_COLUMNS, FEATURE_COLUMNS, feature, swap_place
from geo.filters import contributions_where

QUEUE_EXTRA = ("'priority', c.priority, 'assigned_to', c.assigned_to_id, "
               "'service', (SELECT code FROM services WHERE id = c.service_id), "
               "'planned_for', c.planned_for, 'followers_count', c.followers_count, "
               "'age_days', floor(extract(epoch FROM now() - c.created_at) / 86400)::int{distance}")

SORTS = {
    # dangerous first, then oldest: the default an agent starts the day with
    "priority": "CASE c.priority WHEN 'dangerous' THEN 0 WHEN 'annoying' THEN 1 WHEN 'minor' THEN 2 "
                "ELSE 3 END, c.created_at, c.id",
    "oldest": "c.created_at, c.id",
    "newest": "c.created_at DESC, c.id DESC",
    "me_too": "c.votes_up DESC, c.created_at, c.id",
    "nearest": "c.geom_l93 <-> ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 2154), c.id",
}
QUEUE_LIMIT = (1, 1000, 200)  # lowest, highest, default page size
OLDER_THAN_MAX = 36500  # days: `older_than_days` at most a century


@dataclass
class QueueFilters:
    user_id: int
    supervisor: bool
    statuses: list[str]
    category_ids: list[int] | None = None
    arrondissements: list[int] | None = None
    priority: str | None = None
    older_than_days: int | None = None
    assigned_to_me: bool = False
    sort: str = "priority"
    lon: float | None = None
    lat: float | None = None
    limit: int = QUEUE_LIMIT[2]
    offset: int = 0  # the agents' page pages through the queue; the API starts at the top

    def where(self, scopes: list[tuple[int | None, int | None]] | None = None,
              newer: bool = False) -> tuple[str, dict]:
        """The queue's clauses: the shared contribution filters (statuses apart: the counts
        per status are taken over every status), then the agent's scope and the queue's own.
        `scopes` are the agent's (service, arrondissement) rows when the caller read them
        (scope_clause); else the scope is an EXISTS over agent_scopes. `newer` turns
        `older_than_days` round: the reports created since (status_counts subtracts them)."""
        clauses, p = contributions_where("report", category_ids=self.category_ids,
                                         arrondissements=self.arrondissements)
        p["user_id"] = self.user_id
        if not self.supervisor and scopes is not None:
            clauses.append(scope_clause(scopes, p))
        elif not self.supervisor:
            clauses.append("""EXISTS (SELECT 1 FROM agent_scopes s WHERE s.user_id = :user_id
                AND (s.service_id IS NULL OR s.service_id = c.service_id)
                AND (s.arrondissement_id IS NULL OR s.arrondissement_id = c.arrondissement_id))""")
        if self.priority:
            clauses.append("c.priority = :priority")
            p["priority"] = self.priority
        if self.older_than_days is not None:
            clauses.append(f"c.created_at {'>=' if newer else '<'} now() - make_interval(days => :older)")
            p["older"] = self.older_than_days
        if self.assigned_to_me:
            clauses.append("c.assigned_to_id = :user_id")
        return " AND ".join(clauses), p


def scope_clause(scopes: list[tuple[int | None, int | None]], p: dict) -> str:
    """An agent's scope, (service, arrondissement) rows with None meaning every one, as plain
    predicates on the report's own columns: the same rows as the EXISTS over agent_scopes,
    but the planner can search an index with them (the EXISTS, with its ORs, is a filter
    tested on every report of the status: 50–700 ms at 5M, bench/results/reads.json)."""
    by_service: dict[int | None, set[int | None]] = {}
    for service_id, arrondissement_id in scopes:
        by_service.setdefault(service_id, set()).add(arrondissement_id)
    terms = []
    for i, (service_id, arrondissements) in enumerate(sorted(by_service.items(), key=str)):
        parts = []
        if service_id is not None:
            parts.append(f"c.service_id = :scope_service_{i}")
            p[f"scope_service_{i}"] = service_id
        if None not in arrondissements:
            parts.append(f"c.arrondissement_id = ANY(:scope_arrondissements_{i})")
            p[f"scope_arrondissements_{i}"] = sorted(arrondissements)
        terms.append("(" + (" AND ".join(parts) or "true") + ")")
    return "(" + (" OR ".join(terms) or "false") + ")"


def agent_scopes(session: Session, user_id: int) -> list[tuple[int | None, int | None]]:
    return [tuple(r) for r in session.execute(text(
        "SELECT service_id, arrondissement_id FROM agent_scopes WHERE user_id = :id"), {"id": user_id})]


def queue(session: Session, f: QueueFilters, lang: str) -> tuple[str, dict[str, int]]:
    scopes = None if f.supervisor else agent_scopes(session, f.user_id)
    where, params = f.where(scopes)
    params.update(statuses=f.statuses, limit=f.limit, offset=f.offset, lon=f.lon, lat=f.lat)
    distance = ""
    if f.sort == "nearest":
        distance = (", 'distance_m', round(ST_Distance(c.geom_l93, ST_Transform("
                    "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 2154))::numeric)")
    rows = session.execute(text(f"""
        SELECT {FEATURE_COLUMNS}, json_build_object({QUEUE_EXTRA.format(distance=distance)})::text,
               {EXACT_PLACE_COLUMNS}
        FROM contributions c
        WHERE {where} AND c.status = ANY(:statuses)
        ORDER BY {SORTS[f.sort]} LIMIT :limit OFFSET :offset
    """), params)
    members = category_index(session).members_in(lang)
    # staff whose scope holds them (the WHERE says so): the exact place of a sensitive report
    features = ",".join(swap_place(feature(r, members, r[2]), r[3], r[4]) for r in rows)
    return features, status_counts(session, f, scopes, where, params)


def status_counts(session: Session, f: QueueFilters, scopes: list[tuple[int | None, int | None]] | None,
                  where: str, params: dict) -> dict[str, int]:
    """How many reports of the queue's filters are in each status (every status). From the
    queue_counts roll-up (migration b0c1d2e00026: a few hundred rows for a scope instead of
    every report of it); `older_than_days` subtracts what was created since, read from the
    rows by the scope index; `assigned=me` is few rows and counts them."""
    if f.assigned_to_me:
        return _counts(session, f"SELECT c.status, count(*) FROM contributions c WHERE {where} "
                                "GROUP BY c.status", params)
    # the roll-up's columns: no kind (reports only), no visibility (visible ones only)
    clauses, p = contributions_where(None, visible_only=False, category_ids=f.category_ids,
                                     arrondissements=f.arrondissements)
    if scopes is not None:
        clauses.append(scope_clause(scopes, p))
    if f.priority:
        clauses.append("c.priority = :priority")
        p["priority"] = f.priority
    counts = _counts(session, "SELECT c.status, sum(c.n) FROM queue_counts c WHERE "
                     + (" AND ".join(clauses) or "true") + " GROUP BY c.status", p)
    if f.older_than_days is not None:
        # every status named: the scope index is then read as one range per arrondissement
        # and status (created since), not as every entry of the scope
        newer, p = f.where(scopes, newer=True)
        p["all_statuses"] = list(REPORT_STATUSES)
        for status, n in _counts(session, "SELECT c.status, count(*) FROM contributions c "
                                 f"WHERE {newer} AND c.status = ANY(:all_statuses) GROUP BY c.status",
                                 p).items():
            counts[status] -= n
    return {status: n for status, n in counts.items() if n}


def _counts(session: Session, sql: str, params: dict) -> dict[str, int]:
    return {status: int(n) for status, n in session.execute(text(sql), params)}


def queue_page_extras(session: Session, ids: list[int]) -> dict[int, dict]:
    """What the agents' page shows beyond the API's Feature, per report id: the first photo's
    SHA-256 (or None) and whether a resident reopened it ("still there" after its resolution,
    counted by services.feedback in `reopen_count`)."""
    rows = session.execute(text("""
        SELECT c.id, c.reopen_count > 0,
               (SELECT p.sha256 FROM photos p WHERE p.contribution_id = c.id
                ORDER BY p.position, p.id LIMIT 1)
        FROM contributions c WHERE c.id = ANY(:ids)"""), {"ids": ids})
    return {r[0]: {"reopened": r[1], "photo": r[2]} for r in rows}


def recent_changes(session: Session, actor_id: int, ids: list[int], to: str,
                   minutes: int = 10) -> int:
    """How many of the reports `ids` `actor_id` moved to `to` in the last `minutes`: the
    confirmation after a batch on the agents' page names only what really happened."""
    return session.scalar(text("""
        SELECT count(DISTINCT e.contribution_id) FROM status_events e
        WHERE e.contribution_id = ANY(:ids) AND e.actor_id = :actor AND e.to_status = :to
          AND e.created_at > now() - make_interval(mins => :minutes)"""),
        {"ids": ids, "actor": actor_id, "to": to, "minutes": minutes}) or 0
