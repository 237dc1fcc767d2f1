"""Hand-made reports inserted straight into contributions (one statement, like the importer),
in years the extract does not cover, so that every expected number is known."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

INSERT = """
INSERT INTO contributions (kind, category_id, status, title, geom, created_at, updated_at,
                           acknowledged_at, closed_at, reopen_count, source, source_id)
SELECT 'report', cat.id, r.status, 'Signalement de test', ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326),
       r.created_at, r.created_at, r.acknowledged_at, r.closed_at, r.reopen_count, 'test', r.source_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(lon float8, lat float8, created_at timestamptz,
     category text, status text, acknowledged_at timestamptz, closed_at timestamptz,
     reopen_count int, source_id text)
JOIN categories cat ON cat.code = r.category
RETURNING id
"""


@pytest.fixture
def insert_reports(session):
    counter = iter(range(10**9))

    def insert(*rows: dict) -> list[int]:
        full = [{"category": "graffitis", "status": "new", "acknowledged_at": None, "closed_at": None,
                 "reopen_count": 0, "source_id": f"t{next(counter)}", **r} for r in rows]
        ids = list(session.execute(text(INSERT), {"rows": json.dumps(full, default=str)}).scalars())
        session.flush()
        assert len(ids) == len(rows)
        return ids

    return insert


@pytest.fixture
def planner(make_user):
    return make_user(roles=("planner",), name="Planner")
