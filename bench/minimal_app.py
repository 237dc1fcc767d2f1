"""The reference's minimal contender (shared/reference/postgis-performance.md §6), rebuilt.

A Flask endpoint on a psycopg_pool pool that sends pygeoapi's two statements (numberMatched,
then the page) and returns the FeatureCollection PostgreSQL built: 5 columns per Feature,
no filters beyond the bbox, no error handling, no accounts. It is not part of the product:
the bbox bench runs it beside the app (`gunicorn -w 2 bench.minimal_app:app`) so that our
req/s can be read against the reference's 555 measured on the same machine, the same day.

With MINIMAL_PAGE=stored it serves our own page instead: the same stored Features (~670 bytes
each, 3.5 times the reference's 5 columns) in the same order, concatenated by PostgreSQL in
one statement. Beside it, the app's req/s measures what the app adds (contract, accounts,
headers, the page built in Python), not what a bigger Feature costs.
"""

import os

from flask import Flask, Response, request
from psycopg_pool import ConnectionPool

app = Flask(__name__)
pool = ConnectionPool(os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1),
                      min_size=1, max_size=4, open=False, kwargs={"autocommit": True})

COUNT = "SELECT count(*) FROM contributions WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
PAGE = """
SELECT '{"type":"FeatureCollection","numberMatched":' || %s || ',"features":['
       || coalesce(string_agg(ST_AsGeoJSON(t.*, 'geom', 6), ','), '') || ']}'
FROM (SELECT id, category_id, status, created_at, geom FROM contributions
      WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) ORDER BY id LIMIT %s) t
"""

STORED_PAGE = """
SELECT '{"type":"FeatureCollection","numberReturned":' || count(*) || ',"features":['
       || coalesce(string_agg(feature_json, ','), '') || ']}'
FROM (SELECT feature_json FROM contributions
      WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
        AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
      ORDER BY created_at DESC, id DESC LIMIT %s) t
"""
STORED = os.environ.get("MINIMAL_PAGE") == "stored"


@app.get("/api/v1/reports")
def reports():
    if pool.closed:
        pool.open()
    w, s, e, n = (float(v) for v in request.args["bbox"].split(","))
    limit = int(request.args.get("limit", 500))
    with pool.connection() as conn:
        if STORED:
            body = conn.execute(STORED_PAGE, (w, s, e, n, limit), prepare=True).fetchone()[0]
        else:
            matched = conn.execute(COUNT, (w, s, e, n), prepare=True).fetchone()[0]
            body = conn.execute(PAGE, (matched, w, s, e, n, limit), prepare=True).fetchone()[0]
    return Response(body, mimetype="application/geo+json")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
