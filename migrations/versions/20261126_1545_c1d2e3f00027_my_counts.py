""""My contributions" at 5M: the four tab counts kept per person, and indexes in each tab's order.

The page (app/web/services.py, my_contributions) counted four sets on every request — what I
published, supported, commented on and follow, the last three among public contributions —
about 12,000 index and heap lookups for a resident as active as the bench's heavy user
(50–65 ms at 5M), then sorted each tab's whole set for its first 50 cards.

`my_counts` holds the four numbers per person, kept in the writer's transaction:

* `published` by +1/−1 deltas from the statement-level triggers on `contributions` (author,
  withdrawn or not): every row concerned is in the transition tables;
* `supported`, `commented`, `followed` by recounting the people a statement concerns —
  voters, commenters and followers of the rows changed in `votes`, `comments`, `follows`, and
  of the contributions whose visibility (hidden, withdrawn) changed. Not deltas: a comment
  counts once per contribution, and a deleted contribution takes its votes with it through
  the foreign key's cascade, after which nothing says it was public. The recount first locks
  (or creates) the people's rows in id order, then counts in a new snapshot, so that two
  concurrent writers for the same person serialise on the row and the second counts what the
  first committed.

`my_counts_rebuild()` recounts everyone (here, and after the importer's bulk path, which
discovers the family by its triggers on `contributions`: app/importers/rollups.py).

Indexes in the tabs' order, replacing the plain ones on the same leading column:
contributions (author_id, created_at DESC, id DESC), votes and follows
(user_id, created_at DESC): each tab's first page is then an ordered index range.

Revision ID: c1d2e3f00027
Revises: b0c1d2e00026
Create Date: 2026-11-26 15:45
"""

from alembic import op

revision = "c1d2e3f00027"
down_revision = "b0c1d2e00026"
branch_labels = None
depends_on = None

PUBLIC = "NOT c.hidden AND c.withdrawn_at IS NULL"
# each recounted number of the person m.user_id (my_counts aliased m)
RECOUNT = {
    "supported": f"""(SELECT count(*) FROM votes v JOIN contributions c ON c.id = v.contribution_id
                     WHERE v.user_id = m.user_id AND v.value = 1 AND {PUBLIC})""",
    "commented": f"""(SELECT count(DISTINCT k.contribution_id) FROM comments k
                     JOIN contributions c ON c.id = k.contribution_id
                     WHERE k.author_id = m.user_id AND NOT k.hidden AND {PUBLIC})""",
    "followed": f"""(SELECT count(*) FROM follows f JOIN contributions c ON c.id = f.contribution_id
                    WHERE f.user_id = m.user_id AND {PUBLIC})""",
}
PUBLISHED_DELTA = """
    INSERT INTO my_counts AS r (user_id, published)
    SELECT author_id, sum(d) FROM (
        SELECT author_id, -1 AS d FROM old_p UNION ALL SELECT author_id, 1 FROM new_p) x
    WHERE author_id IS NOT NULL
    GROUP BY 1 HAVING sum(d) <> 0 ORDER BY 1
    ON CONFLICT (user_id) DO UPDATE SET published = r.published + EXCLUDED.published
"""
PUBLISHED = "SELECT c.author_id FROM {source} c WHERE c.withdrawn_at IS NULL"
NONE = "SELECT NULL::bigint AS author_id WHERE false"
# the tables whose statements change a recounted number: (its person column, the number)
ACTIVITY = {"votes": ("user_id", "supported"), "comments": ("author_id", "commented"),
            "follows": ("user_id", "followed")}
VISIBLE_N, VISIBLE_O = (f"(NOT {a}.hidden AND {a}.withdrawn_at IS NULL)" for a in "no")


def sql(statements: str) -> None:
    # the driver reads % as a placeholder: format()'s %I is written %%I
    op.get_bind().exec_driver_sql(statements.replace("%", "%%"))


def upgrade() -> None:
    sql("""
    DROP INDEX ix_contributions_author_id;
    CREATE INDEX ix_contributions_author_id_created_at ON contributions (author_id, created_at DESC, id DESC);
    DROP INDEX ix_votes_user_id;
    CREATE INDEX ix_votes_user_id_created_at ON votes (user_id, created_at DESC);
    DROP INDEX ix_follows_user_id;
    CREATE INDEX ix_follows_user_id_created_at ON follows (user_id, created_at DESC);
    """)
    recount = "\n".join(f"""
        IF what IN ('{name}', 'all') THEN
            UPDATE my_counts m SET {name} = {expression} WHERE m.user_id = ANY(people);
        END IF;""" for name, expression in RECOUNT.items())
    sql(f"""
    CREATE TABLE my_counts (
        user_id bigint NOT NULL CONSTRAINT pk_my_counts PRIMARY KEY
            CONSTRAINT fk_my_counts_user_id_users REFERENCES users (id) ON DELETE CASCADE,
        published integer NOT NULL DEFAULT 0,
        supported integer NOT NULL DEFAULT 0,
        commented integer NOT NULL DEFAULT 0,
        followed integer NOT NULL DEFAULT 0
    ) WITH (fillfactor = 80);

    -- Recount `what` (supported, commented, followed or all) for these people: lock (or
    -- create) their rows in id order, then count in later statements, whose snapshots
    -- (READ COMMITTED) see what a concurrent writer we waited for committed.
    CREATE FUNCTION my_counts_refresh(people bigint[], what text) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF people IS NULL OR cardinality(people) = 0 THEN
            RETURN;
        END IF;
        INSERT INTO my_counts AS r (user_id)
        SELECT DISTINCT p FROM unnest(people) p WHERE p IS NOT NULL ORDER BY 1
        ON CONFLICT (user_id) DO UPDATE SET user_id = r.user_id;
        {recount}
    END $$;

    CREATE FUNCTION my_counts_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        total bigint;
    BEGIN
        TRUNCATE my_counts;
        INSERT INTO my_counts (user_id, published, supported, commented, followed)
        SELECT u.id, coalesce(p.n, 0), coalesce(s.n, 0), coalesce(k.n, 0), coalesce(f.n, 0)
        FROM users u
        LEFT JOIN (SELECT c.author_id, count(*) AS n FROM contributions c
                   WHERE c.withdrawn_at IS NULL GROUP BY 1) p ON p.author_id = u.id
        LEFT JOIN (SELECT v.user_id, count(*) AS n FROM votes v JOIN contributions c ON c.id = v.contribution_id
                   WHERE v.value = 1 AND {PUBLIC} GROUP BY 1) s ON s.user_id = u.id
        LEFT JOIN (SELECT k.author_id, count(DISTINCT k.contribution_id) AS n FROM comments k
                   JOIN contributions c ON c.id = k.contribution_id
                   WHERE NOT k.hidden AND {PUBLIC} GROUP BY 1) k ON k.author_id = u.id
        LEFT JOIN (SELECT f.user_id, count(*) AS n FROM follows f JOIN contributions c ON c.id = f.contribution_id
                   WHERE {PUBLIC} GROUP BY 1) f ON f.user_id = u.id
        WHERE p.n IS NOT NULL OR s.n IS NOT NULL OR k.n IS NOT NULL OR f.n IS NOT NULL
        ORDER BY u.id;
        GET DIAGNOSTICS total = ROW_COUNT;
        ANALYZE my_counts;
        RETURN total;
    END $$;

    CREATE FUNCTION my_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH new_p AS ({PUBLISHED.format(source="new_rows")}), old_p AS ({NONE})
        {PUBLISHED_DELTA}$sql$;
        RETURN NULL;
    END $$;

    -- the votes, comments and follows of deleted contributions go by the foreign keys'
    -- cascade, whose own statements recount their people (my_counts_on_activity)
    CREATE FUNCTION my_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH old_p AS ({PUBLISHED.format(source="old_rows")}), new_p AS ({NONE})
        {PUBLISHED_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION my_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        people bigint[];
    BEGIN
        EXECUTE $sql$WITH
        changed AS (SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE n.author_id IS DISTINCT FROM o.author_id
                       OR (n.withdrawn_at IS NULL) <> (o.withdrawn_at IS NULL)),
        old_p AS ({PUBLISHED.format(source="old_rows")} AND c.id IN (SELECT id FROM changed)),
        new_p AS ({PUBLISHED.format(source="new_rows")} AND c.id IN (SELECT id FROM changed))
        {PUBLISHED_DELTA}$sql$;
        -- contributions shown or hidden: recount their voters, commenters and followers
        EXECUTE $sql$WITH seen AS (
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {VISIBLE_N} <> {VISIBLE_O})
        SELECT array_agg(DISTINCT p) FROM (
            SELECT v.user_id AS p FROM votes v JOIN seen ON seen.id = v.contribution_id
            UNION ALL SELECT f.user_id FROM follows f JOIN seen ON seen.id = f.contribution_id
            UNION ALL SELECT k.author_id FROM comments k JOIN seen ON seen.id = k.contribution_id) x
        $sql$ INTO people;
        PERFORM my_counts_refresh(people, 'all');
        RETURN NULL;
    END $$;

    CREATE FUNCTION my_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE my_counts;
        RETURN NULL;
    END $$;

    -- votes, comments, follows: TG_ARGV = (the person column, the number it changes)
    CREATE FUNCTION my_counts_on_activity() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        people bigint[];
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            EXECUTE format('UPDATE my_counts SET %I = 0 WHERE %I <> 0', TG_ARGV[1], TG_ARGV[1]);
            RETURN NULL;
        ELSIF TG_OP = 'INSERT' THEN
            EXECUTE format('SELECT array_agg(DISTINCT %I) FROM new_rows', TG_ARGV[0]) INTO people;
        ELSIF TG_OP = 'DELETE' THEN
            EXECUTE format('SELECT array_agg(DISTINCT %I) FROM old_rows', TG_ARGV[0]) INTO people;
        ELSE
            EXECUTE format('SELECT array_agg(DISTINCT p) FROM (SELECT %I AS p FROM old_rows '
                           'UNION ALL SELECT %I FROM new_rows) x', TG_ARGV[0], TG_ARGV[0]) INTO people;
        END IF;
        PERFORM my_counts_refresh(people, TG_ARGV[1]);
        RETURN NULL;
    END $$;
    """)
    triggers = [
        "CREATE TRIGGER my_counts_insert AFTER INSERT ON contributions REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_insert()",
        "CREATE TRIGGER my_counts_update AFTER UPDATE ON contributions "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_update()",
        "CREATE TRIGGER my_counts_delete AFTER DELETE ON contributions REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_delete()",
        "CREATE TRIGGER my_counts_truncate AFTER TRUNCATE ON contributions "
        "FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_truncate()",
    ]
    for table, (person, number) in ACTIVITY.items():
        args = f"'{person}', '{number}'"
        triggers += [
            f"CREATE TRIGGER my_counts_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_activity({args})",
            f"CREATE TRIGGER my_counts_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_activity({args})",
            f"CREATE TRIGGER my_counts_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_activity({args})",
            f"CREATE TRIGGER my_counts_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION my_counts_on_activity({args})",
        ]
    sql(";\n".join(triggers) + ";\nSELECT my_counts_rebuild();")


def downgrade() -> None:
    sql(";\n".join(f"DROP TRIGGER my_counts_{op_} ON {table}" for table in ("contributions", *ACTIVITY)
                   for op_ in ("insert", "update", "delete", "truncate")) + ";")
    sql("""
    DROP FUNCTION my_counts_on_insert(), my_counts_on_update(), my_counts_on_delete(),
        my_counts_on_truncate(), my_counts_on_activity(), my_counts_rebuild(),
        my_counts_refresh(bigint[], text);
    DROP TABLE my_counts;
    DROP INDEX ix_follows_user_id_created_at;
    CREATE INDEX ix_follows_user_id ON follows (user_id);
    DROP INDEX ix_votes_user_id_created_at;
    CREATE INDEX ix_votes_user_id ON votes (user_id);
    DROP INDEX ix_contributions_author_id_created_at;
    CREATE INDEX ix_contributions_author_id ON contributions (author_id);
    """)
