"""Roll-ups recounted set-wise after a bulk load, without locking their readers out.

The roll-ups of `contributions` (the planner's facts and counts, the tiles' cells and area
counts, and whatever a later migration adds the same way) are kept exact by AFTER … FOR
EACH STATEMENT triggers `<name>_on_insert|update|delete|truncate`, and each family has a
`<name>_rebuild()` that TRUNCATEs its tables and recounts them from `contributions`. A bulk
load that bypasses the triggers (session_replication_role = replica) must bring the roll-ups
to the same values, but calling the rebuild functions on the live tables would hold
TRUNCATE's ACCESS EXCLUSIVE lock until commit: every planner and map reader would wait.

So the rebuild functions run against *shadows*: a temporary table of the same name and
columns for each table the function truncates. Unqualified names resolve to pg_temp first,
so `<name>_rebuild()` fills the shadows from the live `contributions` without touching the
live roll-ups. The live tables then receive the difference, key by key (DELETE the keys
gone, UPDATE the values changed, INSERT the keys new), under ordinary row locks: a reader
sees the old counts until the commit, then the new ones. Nothing here restates how a fact
or a cell is computed: the rebuild functions stay the one definition.

The caller must keep concurrent writers out between the recount and the commit (their
triggers would add deltas to rows the merge then overwrites): `merge()` takes SHARE on
`contributions`, which writers (ROW EXCLUSIVE) wait for and readers (ACCESS SHARE) do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

TABLE = "contributions"
# BEFORE … FOR EACH ROW triggers whose whole work a bulk INSERT does itself, set-based: the
# importer passes geom/exact_geom (coarse), quartier_id (locate), service_id (route) and
# feature_json (serialise), and with those each trigger returns at once.
ROW_TRIGGERS_DONE_BY_BULK_INSERT = frozenset({
    "contributions_coarse", "contributions_locate", "contributions_route", "contributions_serialise",
})
ANALYZE_AFTER = 10_000  # rows a merge changed in a table
_ROLLUP_FUNCTION = re.compile(r"^(\w+)_on_(insert|update|delete|truncate)$")
_TRUNCATE = re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?([\w\s,.\"]+?)\s*;", re.I)


@dataclass(frozen=True)
class Rollup:
    name: str  # planner, tiles, …
    rebuild: str  # its function, e.g. planner_rebuild
    tables: tuple[str, ...]  # the tables the rebuild truncates and refills


@dataclass(frozen=True)
class Triggers:
    rollups: tuple[Rollup, ...]
    unknown: tuple[str, ...]  # enabled triggers a bulk load cannot stand in for

    @property
    def bypassable(self) -> bool:
        return not self.unknown


def discover(session: Session) -> Triggers:
    """The roll-up families maintained by triggers on contributions, from the catalog."""
    rows = session.execute(text("""
        SELECT t.tgname, p.proname, r.oid IS NOT NULL AS has_rebuild, r.prosrc AS rebuild_src
        FROM pg_trigger t
        JOIN pg_proc p ON p.oid = t.tgfoid
        LEFT JOIN pg_proc r ON r.proname = regexp_replace(p.proname, '_on_[a-z]+$', '_rebuild')
                           AND r.pronargs = 0 AND r.pronamespace = p.pronamespace
        WHERE t.tgrelid = CAST(:table AS regclass) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
        ORDER BY t.tgname
    """), {"table": TABLE}).all()
    families: dict[str, Rollup] = {}
    unknown: list[str] = []
    for trigger, function, has_rebuild, source in rows:
        if trigger in ROW_TRIGGERS_DONE_BY_BULK_INSERT:
            continue
        match = _ROLLUP_FUNCTION.match(function)
        tables = _truncated_tables(source or "")
        if not (match and has_rebuild and tables):
            unknown.append(trigger)
            continue
        name = match.group(1)
        families.setdefault(name, Rollup(name, f"{name}_rebuild", tables))
    return Triggers(tuple(families.values()), tuple(unknown))


def _truncated_tables(source: str) -> tuple[str, ...]:
    """The tables a rebuild function's first TRUNCATE names (its whole output)."""
    match = _TRUNCATE.search(source)
    if not match:
        return ()
    return tuple(name.strip().strip('"').split(".")[-1] for name in match.group(1).split(","))


def _columns(session: Session, table: str) -> tuple[list[str], list[str]]:
    """(primary-key columns, other columns) of public.<table>, in column order."""
    rows = session.execute(text("""
        SELECT a.attname, coalesce(a.attnum = ANY(i.indkey), false) AS is_key
        FROM pg_attribute a
        LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
        WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
    """), {"table": f"public.{table}"}).all()
    keys = [name for name, is_key in rows if is_key]
    values = [name for name, is_key in rows if not is_key]
    return (keys, values) if keys else ([name for name, _ in rows], [])


def recount(session: Session, rollups: tuple[Rollup, ...]) -> None:
    """Fill a temporary shadow of every roll-up table by its own rebuild function."""
    for rollup in rollups:
        for table in rollup.tables:
            session.execute(text(f'DROP TABLE IF EXISTS pg_temp."{table}"'))
            session.execute(text(f'CREATE TEMP TABLE "{table}" (LIKE public."{table}") ON COMMIT DROP'))
    # A plan cached earlier in this session (a rebuild called on the live tables, say) names
    # the live tables' OIDs; forget them so that every name is resolved again, to the shadows.
    session.execute(text("DISCARD PLANS"))
    for rollup in rollups:
        session.execute(text(f"SELECT {rollup.rebuild}()"))
        for table in rollup.tables:  # a shadow left empty while rows exist: the trick failed
            assert session.scalar(text(f'SELECT to_regclass(\'pg_temp."{table}"\') IS NOT NULL'))


def _key_match(keys: list[str], a: str, b: str) -> str:
    return " AND ".join(f'{a}."{k}" = {b}."{k}"' for k in keys)


def merge(session: Session, rollups: tuple[Rollup, ...]) -> dict[str, dict[str, int]]:
    """Recount into shadows and apply the differences to the live roll-ups, key by key.

    Takes SHARE on contributions until commit (writers wait, readers do not), then returns
    {table: {"deleted", "updated", "inserted"}}. Keys are visited in key order, as the
    triggers do, so that the merge locks rows in the order a concurrent writer would."""
    session.execute(text(f"LOCK TABLE {TABLE} IN SHARE MODE"))
    recount(session, rollups)
    changes: dict[str, dict[str, int]] = {}
    for rollup in rollups:
        for table in rollup.tables:
            keys, values = _columns(session, table)
            live, shadow = f'public."{table}"', f'pg_temp."{table}"'
            order = ", ".join(f'"{k}"' for k in keys)
            deleted = session.execute(text(f"""
                DELETE FROM {live} p WHERE NOT EXISTS (SELECT 1 FROM {shadow} t WHERE {_key_match(keys, 't', 'p')})
            """)).rowcount
            updated = 0
            if values:
                cols = ", ".join(f'"{v}"' for v in values)
                updated = session.execute(text(f"""
                    UPDATE {live} p SET ({cols}) = ROW({", ".join(f't."{v}"' for v in values)})
                    FROM (SELECT * FROM {shadow} ORDER BY {order}) t
                    WHERE {_key_match(keys, 't', 'p')}
                      AND ROW({", ".join(f'p."{v}"' for v in values)})
                          IS DISTINCT FROM ROW({", ".join(f't."{v}"' for v in values)})
                """)).rowcount
            inserted = session.execute(text(f"""
                INSERT INTO {live} SELECT t.* FROM {shadow} t
                WHERE NOT EXISTS (SELECT 1 FROM {live} p WHERE {_key_match(keys, 't', 'p')})
                ORDER BY {", ".join(f't."{k}"' for k in keys)}
            """)).rowcount
            changes[table] = {"deleted": deleted, "updated": updated, "inserted": inserted}
            if deleted + updated + inserted >= ANALYZE_AFTER:
                # the triggers' statements are planned on these statistics (5M new facts
                # otherwise wait for autovacuum); SHARE UPDATE EXCLUSIVE: readers go on
                session.execute(text(f"ANALYZE {live}"))
    for rollup in rollups:
        for table in rollup.tables:
            session.execute(text(f'DROP TABLE pg_temp."{table}"'))
    return changes


def differences(session: Session, rollups: tuple[Rollup, ...] | None = None) -> dict[str, int]:
    """Rows by which each live roll-up differs from a recount by its rebuild function (0
    everywhere when the roll-ups are exact). A live row absent from the recount counts only
    if its `n` is not 0: the triggers keep keys that fell back to 0 and readers skip them."""
    rollups = discover(session).rollups if rollups is None else rollups
    recount(session, rollups)
    out: dict[str, int] = {}
    for rollup in rollups:
        for table in rollup.tables:
            keys, values = _columns(session, table)
            zero = "p.n = 0" if "n" in values else "false"
            out[table] = session.scalar(text(f"""
                SELECT count(*) FROM public."{table}" p FULL JOIN pg_temp."{table}" t ON {_key_match(keys, 't', 'p')}
                WHERE CASE WHEN t IS NULL THEN NOT ({zero})
                           WHEN p IS NULL THEN true
                           ELSE ROW(p.*) IS DISTINCT FROM ROW(t.*) END
            """))
            session.execute(text(f'DROP TABLE pg_temp."{table}"'))
    return out
