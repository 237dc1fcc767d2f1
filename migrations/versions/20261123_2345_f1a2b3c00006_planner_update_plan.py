"""Planner triggers: planned for the rows at hand, every time.

PL/pgSQL caches the plan of a statement without parameters for the whole session. The
planner triggers' statements read transition tables, whose size the planner takes from the
first execution: after a single-row API write, a session kept a nested-loop plan made for
one row, and a later 36,000-row UPDATE (the demo history) joined `new_rows` to `old_rows`
by 36,000 × 36,000 probes: 7.6 minutes instead of 3 seconds (seen in the test suite, where
one connection does both). The statements now run through EXECUTE, planned on each call
(~1 ms), with the real transition table sizes. The UPDATE trigger also computes facts from
the changed rows themselves instead of semi-joining `new_rows` to them.

Revision ID: f1a2b3c00006
Revises: e8c3d1e00005
Create Date: 2026-11-23 23:45
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "f1a2b3c00006"
down_revision = "e8c3d1e00005"
branch_labels = None
depends_on = None


def _rollups():
    """The planner_rollups migration's SQL fragments (one definition of a fact)."""
    path = Path(__file__).with_name("20261123_2010_c5a7a7500003_planner_rollups.py")
    spec = importlib.util.spec_from_file_location("planner_rollups_c5a7a7500003", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _functions(dynamic: bool) -> str:
    """The three row-set triggers, their statements run by EXECUTE (dynamic) or static."""
    r = _rollups()

    def run(statement: str) -> str:
        return f"EXECUTE $sql${statement}$sql$;" if dynamic else f"{statement};"

    if dynamic:
        changed = f"SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {r.CHANGED}"
        new_f = r.FACT_SELECT.format(source="changed", extra="")
    else:
        changed = f"SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {r.CHANGED}"
        new_f = r.FACT_SELECT.format(source="new_rows", extra="AND c.id IN (SELECT id FROM changed)")
    any_change = f"SELECT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {r.CHANGED})"
    check = (f"EXECUTE $sql${any_change}$sql$ INTO changes;" if dynamic
             else f"changes := ({any_change});")
    return f"""
    CREATE OR REPLACE FUNCTION planner_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {run(f'''WITH new_f AS ({r.FACT_SELECT.format(source="new_rows", extra="")}),
        old_f AS (SELECT * FROM planner_facts WHERE false),
        ins AS (INSERT INTO planner_facts ({r.FACT_COLUMNS}) SELECT * FROM new_f RETURNING 1),
        {r.APPLY_DELTA}''')}
        RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION planner_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {run(f'''WITH old_f AS (SELECT f.* FROM planner_facts f WHERE f.id IN (SELECT id FROM old_rows)),
        new_f AS (SELECT * FROM planner_facts WHERE false),
        del AS (DELETE FROM planner_facts f WHERE f.id IN (SELECT id FROM old_f) RETURNING 1),
        {r.APPLY_DELTA}''')}
        RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION planner_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changes boolean;
    BEGIN
        {check}
        IF NOT changes THEN
            RETURN NULL;
        END IF;
        {run(f'''WITH changed AS ({changed}),
        old_f AS (SELECT f.* FROM planner_facts f WHERE f.id IN (SELECT id FROM changed)),
        new_f AS ({new_f}),
        del AS (DELETE FROM planner_facts f
                WHERE f.id IN (SELECT id FROM old_f) AND f.id NOT IN (SELECT id FROM new_f) RETURNING 1),
        ups AS (INSERT INTO planner_facts ({r.FACT_COLUMNS}) SELECT * FROM new_f
                ON CONFLICT (id) DO UPDATE SET {r.FACT_SET} RETURNING 1),
        {r.APPLY_DELTA}''')}
        RETURN NULL;
    END $$;
    """


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(_functions(dynamic=True))


def downgrade() -> None:
    sql(_functions(dynamic=False))
