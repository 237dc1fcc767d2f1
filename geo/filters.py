"""The one WHERE builder of contribution filters on `contributions c`: the lists, the map, the
agents' queue and the planner's naive baselines all say "these contributions" through it.

Pure SQL text and parameters (SQLAlchemy `text()` style `:name`), no session: geo/ builds,
app/ runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def like_pattern(words: str) -> str:
    """An ILIKE pattern matching `words` anywhere, its own % and _ taken literally."""
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contributions_where(
    kind: str | None,
    *,
    visible_only: bool = True,
    bbox: tuple[float, float, float, float] | None = None,
    category_ids: Sequence[int] | None = None,
    statuses: Sequence[str] | None = None,
    recently_closed: tuple[Sequence[str], datetime] | None = None,
    arrondissements: Sequence[int] | None = None,
    quartiers: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    source_id: str | None = None,
    cursor: tuple[datetime, int] | None = None,
    consultation_id: int | None = None,
) -> tuple[list[str], dict]:
    """(clauses to AND, parameters) for the visible contributions of `kind` matching every
    filter given. `category_ids` is an exact list (an empty one matches nothing); the others
    filter only when non-empty. `recently_closed` is (statuses, since): those closed at or
    after `since` also match, beside `statuses` (the map's default view: what is open, and what
    was resolved lately). `until` is exclusive; `cursor` is keyset pagination on
    (created_at, id), newest first. `kind=None, visible_only=False` gives only the filters'
    clauses, for a roll-up that has those columns and no others (the agents' queue_counts)."""
    clauses = ["NOT c.hidden", "c.withdrawn_at IS NULL"] if visible_only else []
    p: dict = {}
    if kind is not None:
        clauses.insert(0, "c.kind = :kind")
        p["kind"] = kind
    if bbox:
        # reports are points: the index's box test is the exact test (and ~1 ms cheaper per
        # 500-feature page than ST_Intersects' recheck)
        op = "c.geom && {}" if kind == "report" else "ST_Intersects(c.geom, {})"
        clauses.append(op.format("ST_MakeEnvelope(:w, :s, :e, :n, 4326)"))
        p.update(zip("wsen", bbox, strict=True))
    if category_ids is not None:
        clauses.append("c.category_id = ANY(:category_ids)")
        p["category_ids"] = list(category_ids)
    status_terms = []
    if statuses:
        status_terms.append("c.status = ANY(:statuses)")
        p["statuses"] = list(statuses)
    if recently_closed:
        # closed_at is set by every closing transition and cleared by a reopening
        status_terms.append("(c.status = ANY(:closed_statuses) AND c.closed_at >= :closed_since)")
        p["closed_statuses"], p["closed_since"] = list(recently_closed[0]), recently_closed[1]
    if status_terms:
        clauses.append(status_terms[0] if len(status_terms) == 1
                       else "(" + " OR ".join(status_terms) + ")")
    for column, name, values in (("arrondissement_id", "arrondissements", arrondissements),
                                 ("quartier_id", "quartiers", quartiers)):
        if values:
            clauses.append(f"c.{column} = ANY(:{name})")
            p[name] = list(values)
    if since:
        clauses.append("c.created_at >= :since")
        p["since"] = since
    if until:
        clauses.append("c.created_at < :until")
        p["until"] = until
    if q:
        clauses.append("(c.title ILIKE :q_like OR c.description ILIKE :q_like)")
        p["q_like"] = like_pattern(q)
    if source_id:
        clauses.append("c.source_id = :source_id")
        p["source_id"] = source_id
    if consultation_id is not None:
        clauses.append("c.consultation_id = :consultation_id")
        p["consultation_id"] = consultation_id
    if cursor:
        clauses.append("(c.created_at, c.id) < (:cursor_at, :cursor_id)")
        p["cursor_at"], p["cursor_id"] = cursor
    return clauses, p


def cells_where(
    kind: str,
    *,
    category_ids: Sequence[int] | None = None,
    statuses: Sequence[str] | None = None,
    arrondissements: Sequence[int] | None = None,
    quartiers: Sequence[int] | None = None,
    alias: str = "t",
    prefix: str = "",
) -> tuple[list[str], dict]:
    """The same filters as contributions_where, on pre-aggregated cells keyed by kind,
    category, status and quartier (`tile_cells`, `map_recent_cells`: visible contributions
    only). The arrondissement is the quartier's. Parameters are named with `prefix`."""
    a = alias
    clauses = [f"{a}.kind = :{prefix}kind"]
    p: dict = {f"{prefix}kind": kind}
    if category_ids is not None:
        clauses.append(f"{a}.category_id = ANY(:{prefix}category_ids)")
        p[f"{prefix}category_ids"] = list(category_ids)
    if statuses is not None:
        clauses.append(f"{a}.status = ANY(:{prefix}statuses)")
        p[f"{prefix}statuses"] = list(statuses)
    if arrondissements:
        clauses.append(f"{a}.quartier_id IN (SELECT id FROM quartiers "
                       f"WHERE arrondissement_id = ANY(:{prefix}arrondissements))")
        p[f"{prefix}arrondissements"] = list(arrondissements)
    if quartiers:
        clauses.append(f"{a}.quartier_id = ANY(:{prefix}quartiers)")
        p[f"{prefix}quartiers"] = list(quartiers)
    return clauses, p
