"""The shared 5M dataset: one database, loaded once, reused by every read benchmark.

    .venv/bin/python -m bench dataset [--rows 5000000] [--rebuild]

`cartagora_bench` (`--db`) holds the areas, the categories and `--rows` synthetic contributions
shaped like the 39,515-report DansMaRue extract, whose rows are read straight from the CSV as
seeds (the importer is not needed, so the dataset does not depend on its state):

- each contribution copies a seed drawn at random (its category as the importer maps it,
  title and address: the extract's category mix and density per quartier), moved by a
  gaussian step (σ = 40 m, in Lambert-93);
- created uniformly over the 4 years up to now (so the map's default `current` filter, open
  reports plus those resolved in the last 30 days, finds today's numbers: about 1 % open);
- 3 % are proposals (published, under review, accepted, realised, rejected);
- a report's workflow is the planner generator's: exponential times to acknowledge (mean
  20 h) and to close (mean 100 h); closed as resolved (78/84, with the extract's resolutions:
  fixed, not fixed, forwarded) or rejected (6/84), 3 % of them reopened once. A report whose
  acknowledgement or closing lies in the future is still new or acknowledged. Others stay
  open (new, acknowledged, scheduled, monitoring) with a probability of 16 % that decays with
  age (90 days): old reports are closed, as in the real service;
- authors: 3,000 resident accounts own 10 % of the contributions (skewed: a few own
  thousands), and one account, `heavy@bench.cartagora.test`, owns about 5,000, commented 3,000
  reports, voted on 3,000 and follows 3,000 ("my contributions" at its worst);
- 60,000 comments, 60,000 votes and 30,000 follows by the residents, on recent reports.

Everything is set-wise SQL. The contributions are drawn into an unlogged staging table,
numbered along PostGIS' Hilbert order (as the importer inserts, so that a map page's rows share
heap pages), and inserted in chunks of 1M through the live table's triggers: the Feature text,
quartier and service are computed set-based as the importer does (the row triggers see them
done), and the planner and tile roll-ups run their statement triggers on each chunk, so every
roll-up is exact. The secondary indexes are dropped for the load and rebuilt once (nobody reads
this database while it is built). Comments, votes and follows go through their row triggers
(counters on contributions, Feature text re-serialised).

The database records what it holds in a table `bench_dataset`; `ensure()` reuses it when the
row count and the generator version match, and rebuilds it otherwise.
"""

from __future__ import annotations

import time

import psycopg

from bench import common

VERSION = 1  # bump when the generator changes: ensure() then rebuilds
DEFAULT_ROWS = 5_000_000
RESIDENTS = 3_000
HEAVY_EMAIL = "heavy@bench.cartagora.test"
AGENT_EMAIL = "agent@bench.cartagora.test"
PASSWORD = "bench-password-2026"
HEAVY_CONTRIBUTIONS = 5_000
HEAVY_ENGAGEMENT = 3_000
COMMENTS, VOTES, FOLLOWS = 50_000, 40_000, 25_000
CHUNK = 1_000_000

# The extract's reports, read straight from the CSV (category as the importer maps it:
# "type<US>soustype", else "type"; the sub-type as title), as the seeds of the synthetic ones.
SEED = """
CREATE TEMP TABLE seed_raw (type text, soustype text, address text, lon float8, lat float8)
"""
SEED_INDEX = """
CREATE TEMP TABLE seed AS
SELECT row_number() OVER () AS rn, c.id AS category_id,
       left(CASE WHEN length(btrim(r.soustype)) >= 3 THEN btrim(r.soustype) ELSE c.label_fr END, 140) AS title,
       nullif(left(r.address, 200), '') AS address,
       ST_X(p.l93) AS x, ST_Y(p.l93) AS y
FROM seed_raw r
CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326), 2154) AS l93) p
JOIN LATERAL (SELECT id, label_fr FROM categories
              WHERE kind = 'report' AND source_label IN (r.type || chr(31) || r.soustype, r.type)
              ORDER BY source_label = r.type LIMIT 1) c ON true
WHERE EXISTS (SELECT 1 FROM locate_point(ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)) l
              WHERE l.quartier_id IS NOT NULL);
CREATE UNIQUE INDEX ON seed (rn);
ANALYZE seed;
"""


def load_seeds(conn: psycopg.Connection) -> int:
    """COPY the extract's rows into `seed`; how many seeds (reports inside Paris, known category)."""
    import csv

    conn.execute(SEED)
    with common.EXTRACT.open(newline="") as f, conn.cursor().copy("COPY seed_raw FROM STDIN") as copy:
        for row in csv.DictReader(f):
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except (TypeError, ValueError):
                continue
            copy.write_row((row["type"].strip(), " ".join(row["soustype"].replace("[]", " ").split()),
                            row["adresse"], lon, lat))
    conn.execute(SEED_INDEX)
    return conn.execute("SELECT count(*) FROM seed").fetchone()[0]


# One row per generated contribution. Every random() sits in the target list of the
# innermost subquery (one evaluation per row): an uncorrelated LATERAL would be evaluated
# once for the whole batch. Points leaving Paris are dropped by the join on locate_point.
DRAW = """
INSERT INTO bench_staging (g, kind, category_id, status, resolution, title, address, geom,
    quartier_id, arrondissement_id, author_id, created_at, acknowledged_at, closed_at,
    reopen_count)
SELECT gs.g, w.kind, s.category_id, w.status, w.resolution, s.title, s.address, p.geom,
       l.quartier_id, l.arrondissement_id,
       CASE WHEN gs.u_heavy < %(heavy_share)s THEN %(heavy_id)s
            WHEN gs.u_author < 0.10 THEN %(first_resident)s + floor(%(residents)s * gs.u_pick ^ 3)::bigint END,
       gs.created_at, w.acknowledged_at, w.closed_at,
       CASE WHEN w.closed_at IS NOT NULL AND gs.u_reopen < 0.03 THEN 1 ELSE 0 END
FROM (
    SELECT g, 1 + floor(random() * %(seeds)s)::bigint AS pick,
           40 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS dx,
           40 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS dy,
           random() AS u_kind, random() AS u_stuck, random() AS u_open, random() AS u_out,
           random() AS u_res, random() AS u_reopen, random() AS u_author, random() AS u_heavy,
           random() AS u_pick,
           %(now)s - random() * interval '1461 days' AS created_at,
           make_interval(secs => -ln(1 - random()) * 20 * 3600) AS ack,
           make_interval(secs => -ln(1 - random()) * 100 * 3600) AS fix
    FROM generate_series(CAST(%(start)s AS bigint), CAST(%(stop)s AS bigint)) g
) gs
JOIN seed s ON s.rn = gs.pick
CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(s.x + gs.dx, s.y + gs.dy), 2154),
                                        4326) AS geom) p
CROSS JOIN LATERAL locate_point(p.geom) l
CROSS JOIN LATERAL (
    SELECT CASE WHEN gs.u_kind < 0.03 THEN 'proposal' ELSE 'report' END AS kind,
           gs.u_stuck < 0.16 * exp(-extract(epoch FROM %(now)s - gs.created_at) / 86400 / 90) AS stuck,
           gs.created_at + gs.ack > %(now)s AS ack_pending,
           gs.created_at + gs.ack + gs.fix > %(now)s AS fix_pending
) k
CROSS JOIN LATERAL (
    SELECT k.kind,
        CASE WHEN k.kind = 'proposal' THEN
                 CASE WHEN gs.u_open < 0.5 THEN 'published' WHEN gs.u_open < 0.7 THEN 'under_review'
                      WHEN gs.u_open < 0.8 THEN 'accepted' WHEN gs.u_open < 0.9 THEN 'realised'
                      ELSE 'rejected' END
             WHEN k.ack_pending THEN 'new'
             WHEN k.stuck THEN
                 CASE WHEN gs.u_open < 0.31 THEN 'new' WHEN gs.u_open < 0.62 THEN 'acknowledged'
                      WHEN gs.u_open < 0.87 THEN 'scheduled' ELSE 'monitoring' END
             WHEN k.fix_pending THEN 'acknowledged'
             WHEN gs.u_out < 78.0 / 84 THEN 'resolved'
             ELSE 'rejected' END AS status,
        CASE WHEN k.kind = 'report' AND NOT k.ack_pending AND NOT k.stuck AND NOT k.fix_pending
                  AND gs.u_out < 78.0 / 84 THEN
                 CASE WHEN gs.u_res < 0.87 THEN 'fixed' WHEN gs.u_res < 0.95 THEN 'not_fixed'
                      ELSE 'forwarded' END END AS resolution,
        CASE WHEN k.kind = 'report' AND NOT k.ack_pending AND NOT (k.stuck AND gs.u_open < 0.31)
             THEN gs.created_at + gs.ack END AS acknowledged_at,
        CASE WHEN k.kind = 'report' AND NOT k.ack_pending AND NOT k.stuck AND NOT k.fix_pending
             THEN gs.created_at + gs.ack + gs.fix END AS closed_at
) w
WHERE l.quartier_id IS NOT NULL
LIMIT %(size)s
"""

STAGING = """
CREATE UNLOGGED TABLE bench_staging (
    g bigint, ord bigint, kind text, category_id int, status text, resolution text, title text,
    address text, geom geometry(Point, 4326), quartier_id smallint, arrondissement_id smallint,
    author_id bigint, created_at timestamptz, acknowledged_at timestamptz, closed_at timestamptz,
    reopen_count int)
"""

# The importer's set-based insert (app/importers/dansmarue.py `_load`), with the workflow
# columns: passing quartier_id, service_id and feature_json tells the row triggers (coarse,
# locate, route, serialise) that they are done; the Feature text is built by the same SQL
# function and from the same values the serialise trigger would use.
INSERT_CHUNK = """
INSERT INTO contributions (id, kind, category_id, service_id, status, resolution, title, geom,
    exact_geom, quartier_id, arrondissement_id, address, author_id, source, source_id,
    created_at, updated_at, acknowledged_at, closed_at, reopen_count, feature_json)
SELECT r.id, r.kind, r.category_id, r.service_id, r.status, r.resolution, r.title, r.public_geom,
       CASE WHEN r.sensitive THEN r.geom END, r.quartier_id, r.arrondissement_id, r.address,
       r.author_id, 'synthetic', r.g::text, r.created_at, r.updated_at, r.acknowledged_at,
       r.closed_at, r.reopen_count,
       contribution_feature_json(r.id, r.category, r.kind, r.title, '', r.status,
           r.arrondissement_id, r.quartier_id, r.quartier_name,
           CASE WHEN NOT r.sensitive THEN r.address END, r.created_at, r.updated_at,
           0, 0, 0, 0, r.author, r.g::text, r.public_geom)
FROM (
    SELECT nextval('contributions_id_seq') AS id, b.*, cat.service_id, cat.sensitive,
           CASE WHEN cat.sensitive THEN coarse_point(b.geom) ELSE b.geom END AS public_geom,
           category_feature_member(cat.code, cat.label_fr) AS category, q.name AS quartier_name,
           u.display_name AS author,
           greatest(b.created_at, b.acknowledged_at, b.closed_at) AS updated_at
    FROM bench_staging b
    JOIN categories cat ON cat.id = b.category_id
    JOIN quartiers q ON q.id = b.quartier_id
    LEFT JOIN users u ON u.id = b.author_id
    WHERE b.ord > %(lo)s AND b.ord <= %(hi)s
    ORDER BY b.ord
) r
"""

USERS = """
INSERT INTO users (email, display_name, password_hash, roles, email_verified_at, created_at)
SELECT 'resident' || i || '@bench.cartagora.test', 'Résident ' || i, %(hash)s,
       ARRAY['resident'], now(), now() - interval '5 years'
FROM generate_series(1, %(n)s) i
"""

# Recent reports (the last year) get the engagement, as they do in the real service.
ENGAGEMENT = {
    "comments": """
        INSERT INTO comments (contribution_id, author_id, body, created_at)
        SELECT c.id, u.uid, 'Toujours là ce matin.', c.created_at + interval '1 day'
        FROM (SELECT id, created_at, row_number() OVER () AS rn FROM (
                  SELECT id, created_at FROM contributions WHERE created_at > %(since)s AND NOT hidden
                  ORDER BY random() LIMIT %(n)s) picked) c
        CROSS JOIN LATERAL (SELECT CASE WHEN c.rn <= %(heavy_n)s THEN %(heavy)s
            ELSE %(first)s + floor(%(residents)s * random() ^ 2)::bigint + (c.id * 0) END AS uid) u
    """,
    "votes": """
        INSERT INTO votes (contribution_id, user_id, value, created_at)
        SELECT c.id, u.uid, 1, c.created_at + interval '2 days'
        FROM (SELECT id, created_at, row_number() OVER () AS rn FROM (
                  SELECT id, created_at FROM contributions WHERE created_at > %(since)s AND NOT hidden
                  ORDER BY random() LIMIT %(n)s) picked) c
        CROSS JOIN LATERAL (SELECT CASE WHEN c.rn <= %(heavy_n)s THEN %(heavy)s
            ELSE %(first)s + floor(%(residents)s * random() ^ 2)::bigint + (c.id * 0) END AS uid) u
        ON CONFLICT DO NOTHING
    """,
    "follows": """
        INSERT INTO follows (contribution_id, user_id, created_at)
        SELECT c.id, u.uid, c.created_at + interval '1 day'
        FROM (SELECT id, created_at, row_number() OVER () AS rn FROM (
                  SELECT id, created_at FROM contributions WHERE created_at > %(since)s AND NOT hidden
                  ORDER BY random() LIMIT %(n)s) picked) c
        CROSS JOIN LATERAL (SELECT CASE WHEN c.rn <= %(heavy_n)s THEN %(heavy)s
            ELSE %(first)s + floor(%(residents)s * random() ^ 2)::bigint + (c.id * 0) END AS uid) u
        ON CONFLICT DO NOTHING
    """,
}


def recorded(db: common.BenchDb) -> dict | None:
    """What the database says it holds (None when it is not a finished dataset)."""
    try:
        with db.connect() as conn:
            row = conn.execute("SELECT version, rows, built_at, load_s, phases::text FROM bench_dataset").fetchone()
    except psycopg.Error:
        return None
    if row is None:
        return None
    import json

    return {"version": row[0], "rows": row[1], "built_at": row[2].isoformat(), "load_s": row[3],
            "phases": json.loads(row[4])}


def ensure(name: str, rows: int = DEFAULT_ROWS, rebuild: bool = False, migrate: bool = True,
           revision: str = "head") -> tuple[common.BenchDb, dict]:
    """The dataset's database, built when missing, different or asked; its record."""
    db = common.BenchDb(common.with_database(common.server_url(), name))
    found = None if rebuild else recorded(db)
    if found and found["version"] == VERSION and found["rows"] == rows:
        if migrate:
            common.flask(db, "db", "upgrade", revision)  # later migrations backfill from the loaded rows
        common.log(f"{name}: reusing the dataset of {found['built_at']} ({found['rows']:,} contributions)")
        return db, found
    return db, build(name, rows, revision=revision)


def build(name: str, rows: int = DEFAULT_ROWS, seed: float = 0.42, revision: str = "head") -> dict:
    """Drop and rebuild the dataset; its record (phases in seconds)."""
    phases: dict[str, float] = {}
    started = time.perf_counter()

    def phase(label: str, t0: float) -> float:
        phases[label] = round(time.perf_counter() - t0, 1)
        common.log(f"dataset: {label} in {phases[label]} s")
        return time.perf_counter()

    t = time.perf_counter()
    db = common.prepare_database(name, fresh=True, revision=revision)
    t = phase("migrate, areas, categories", t)

    from argon2 import PasswordHasher

    password_hash = PasswordHasher().hash(PASSWORD)
    with db.connect() as conn:
        conn.execute(f"SET synchronous_commit = off; SELECT setseed({seed})")
        heavy = conn.execute(
            "INSERT INTO users (email, display_name, password_hash, roles, email_verified_at) "
            "VALUES (%s, 'Contributrice assidue', %s, ARRAY['resident'], now()) RETURNING id",
            (HEAVY_EMAIL, password_hash)).fetchone()[0]
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0]
        conn.execute(USERS, {"hash": password_hash, "n": RESIDENTS})
        conn.execute(
            "INSERT INTO users (email, display_name, password_hash, roles, email_verified_at) "
            "VALUES (%s, 'Agent de la Ville', %s, ARRAY['resident', 'agent'], now())",
            (AGENT_EMAIL, password_hash))
        seeds = load_seeds(conn)
        existing = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
        n = rows - existing
        conn.execute(STAGING)
        conn.commit()
        t = phase("users", t)
        now = conn.execute("SELECT date_trunc('minute', now())").fetchone()[0]
        done, g = 0, 1
        while done < n:
            size = min(CHUNK, n - done)
            stop = g + int(size * 1.01) + 100  # ~0.3 % of the points leave Paris: draw more
            added = conn.execute(DRAW, {"start": g, "stop": stop, "seeds": seeds, "size": size,
                                        "now": now, "heavy_share": HEAVY_CONTRIBUTIONS / n,
                                        "heavy_id": heavy, "first_resident": first,
                                        "residents": RESIDENTS}).rowcount
            conn.commit()
            done, g = done + added, stop + 1
            common.log(f"dataset: drawn {done:,}/{n:,}")
        conn.execute("""UPDATE bench_staging b SET ord = o.ord FROM (
                            SELECT g, row_number() OVER (ORDER BY geom, created_at, g) AS ord
                            FROM bench_staging) o WHERE o.g = b.g""")
        conn.execute("CREATE INDEX ON bench_staging (ord)")
        conn.commit()
        t = phase("draw into staging", t)

        defs = conn.execute("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid = 'contributions'::regclass AND NOT i.indisunique AND NOT i.indisprimary
        """).fetchall()
        for index, _ in defs:
            conn.execute(f'DROP INDEX "{index}"')
        conn.commit()
        conn.execute("SET plan_cache_mode = auto")
        for lo in range(0, n, CHUNK):
            t0 = time.perf_counter()
            conn.execute(INSERT_CHUNK, {"lo": lo, "hi": lo + CHUNK})
            conn.commit()
            common.log(f"dataset: inserted {min(lo + CHUNK, n):,}/{n:,} ({time.perf_counter() - t0:.0f} s)")
        t = phase("insert through the roll-up triggers", t)
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in defs:
            conn.execute(definition)
        conn.execute("DROP TABLE bench_staging")
        conn.commit()
        t = phase("rebuild indexes", t)

        # a small dataset (a trial run) gets proportionally less engagement
        scale = min(1.0, 10 * rows / DEFAULT_ROWS)
        params = {"since": now.replace(year=now.year - 1), "heavy": heavy, "first": first,
                  "residents": RESIDENTS, "heavy_n": int(HEAVY_ENGAGEMENT * scale)}
        for table, count in (("comments", COMMENTS), ("votes", VOTES), ("follows", FOLLOWS)):
            conn.execute(ENGAGEMENT[table], {**params, "n": int((count + HEAVY_ENGAGEMENT) * scale)})
            conn.commit()
            t = phase(f"{table} through the counter triggers", t)

        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
        t = phase("vacuum analyze", t)
        agent = conn.execute("SELECT id FROM users WHERE email = %s", (AGENT_EMAIL,)).fetchone()[0]
        conn.autocommit = False
        agent_scope(conn, agent)
        conn.autocommit = True
        total = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
        load_s = round(time.perf_counter() - started, 1)
        import json

        conn.execute("CREATE TABLE bench_dataset (version int, rows bigint, built_at timestamptz, "
                     "load_s real, phases json)")
        conn.execute("INSERT INTO bench_dataset VALUES (%s, %s, now(), %s, %s)",
                     (VERSION, total, load_s, json.dumps(phases)))
    common.log(f"dataset: {total:,} contributions in {load_s:.0f} s")
    return recorded(db)


def agent_scope(conn: psycopg.Connection, agent_id: int) -> None:
    """Give the bench agent a field agent's scope once: the service with the most open reports,
    in the 3 arrondissements where it has the most (a city-wide view is a supervisor's)."""
    if conn.execute("SELECT 1 FROM agent_scopes WHERE user_id = %s", (agent_id,)).fetchone():
        return
    service = conn.execute("""SELECT service_id FROM contributions WHERE kind = 'report' AND service_id IS NOT NULL
        AND status IN ('new', 'acknowledged', 'scheduled', 'monitoring')
        GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""").fetchone()[0]
    conn.execute("""INSERT INTO agent_scopes (user_id, service_id, arrondissement_id)
        SELECT %s, %s, arrondissement_id FROM contributions
        WHERE service_id = %s AND status IN ('new', 'acknowledged', 'scheduled', 'monitoring')
        GROUP BY arrondissement_id ORDER BY count(*) DESC LIMIT 3""", (agent_id, service, service))
    conn.commit()
