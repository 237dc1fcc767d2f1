"""The agents' queue counts per status from a roll-up, and its scope index by creation date.

The queue (app/field/queries.py) shows, beside a page of reports, how many of the agent's
scope are in each status. At 5M reports that count read every report of the scope — 572,000
index entries and heap rows for the bench agent, 1.7 s — on every page. `queue_counts` holds
the visible reports per (service, arrondissement, category, status, priority): the scope's
rows of it are a few hundred. A NULL service or priority is stored as 0 / '' (key columns
are NOT NULL; no real service id is 0 and no priority is ''), so the queue's own predicates
(`c.service_id = :s`, `c.priority = :p`) read it unchanged.

Kept exact like the other roll-ups: statement-level triggers with transition tables apply
+1/−1 deltas in key order in the writer's transaction; `queue_counts_rebuild()` recounts it
(here, and by the importer's bulk path, app/importers/rollups.py, which discovers it).

`older_than_days` counts the scope minus what was created since: the scope index gains
`created_at`, so that the complement is a few index ranges (one per arrondissement and
status) instead of the scope's every entry.

Revision ID: b0c1d2e00026
Revises: a9b0c1d00025
Create Date: 2026-11-26 15:30
"""

from alembic import op

revision = "b0c1d2e00026"
down_revision = "a9b0c1d00025"
branch_labels = None
depends_on = None

KEY = "service_id, arrondissement_id, category_id, status, priority"
# a visible report of `{source}` as a queue_counts key
KEY_SELECT = """
    SELECT coalesce(c.service_id, 0) AS service_id, c.arrondissement_id, c.category_id,
           c.status, coalesce(c.priority, '') AS priority
    FROM {source} c
    WHERE c.kind = 'report' AND NOT c.hidden AND c.withdrawn_at IS NULL
"""
APPLY_DELTA = f"""
    delta AS (SELECT old_k.*, -1 AS d FROM old_k UNION ALL SELECT new_k.*, 1 AS d FROM new_k)
    INSERT INTO queue_counts AS r ({KEY}, n)
    SELECT {KEY}, sum(d) FROM delta
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ({KEY}) DO UPDATE SET n = r.n + EXCLUDED.n
"""
WATCHED = ("kind", "service_id", "arrondissement_id", "category_id", "status", "priority",
           "hidden", "withdrawn_at")
CHANGED = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED)
EMPTY = KEY_SELECT.format(source="contributions") + " AND false"

SCOPE_INDEX_BEFORE = """
CREATE INDEX ix_contributions_queue_scope ON contributions (service_id, arrondissement_id, status)
WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
"""
SCOPE_INDEX = """
CREATE INDEX ix_contributions_queue_scope ON contributions
    (service_id, arrondissement_id, status, created_at)
WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
"""


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(f"""
    DROP INDEX ix_contributions_queue_scope;
    {SCOPE_INDEX};

    CREATE TABLE queue_counts (
        service_id integer NOT NULL,
        arrondissement_id smallint NOT NULL,
        category_id integer NOT NULL,
        status varchar(20) NOT NULL,
        priority varchar(10) NOT NULL,
        n integer NOT NULL,
        CONSTRAINT pk_queue_counts PRIMARY KEY ({KEY})
    ) WITH (fillfactor = 80);

    CREATE FUNCTION queue_counts_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        total bigint;
    BEGIN
        TRUNCATE queue_counts;
        INSERT INTO queue_counts ({KEY}, n)
        SELECT {KEY}, count(*) FROM ({KEY_SELECT.format(source="contributions")}) k
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;
        SELECT coalesce(sum(q.n), 0) INTO total FROM queue_counts q;
        ANALYZE queue_counts;
        RETURN total;
    END $$;

    CREATE FUNCTION queue_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH new_k AS ({KEY_SELECT.format(source="new_rows")}),
        old_k AS ({EMPTY}),
        {APPLY_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION queue_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH old_k AS ({KEY_SELECT.format(source="old_rows")}),
        new_k AS ({EMPTY}),
        {APPLY_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION queue_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH
        changed_old AS (SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {CHANGED}),
        changed_new AS (SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {CHANGED}),
        old_k AS ({KEY_SELECT.format(source="changed_old")}),
        new_k AS ({KEY_SELECT.format(source="changed_new")}),
        {APPLY_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION queue_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE queue_counts;
        RETURN NULL;
    END $$;

    CREATE TRIGGER queue_counts_insert AFTER INSERT ON contributions
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_on_insert();
    CREATE TRIGGER queue_counts_update AFTER UPDATE ON contributions
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_on_update();
    CREATE TRIGGER queue_counts_delete AFTER DELETE ON contributions
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_on_delete();
    CREATE TRIGGER queue_counts_truncate AFTER TRUNCATE ON contributions
        FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_on_truncate();

    SELECT queue_counts_rebuild();
    """)


def downgrade() -> None:
    sql(f"""
    DROP TRIGGER queue_counts_insert ON contributions;
    DROP TRIGGER queue_counts_update ON contributions;
    DROP TRIGGER queue_counts_delete ON contributions;
    DROP TRIGGER queue_counts_truncate ON contributions;
    DROP FUNCTION queue_counts_on_insert(), queue_counts_on_update(), queue_counts_on_delete(),
        queue_counts_on_truncate(), queue_counts_rebuild();
    DROP TABLE queue_counts;
    DROP INDEX ix_contributions_queue_scope;
    {SCOPE_INDEX_BEFORE};
    """)
