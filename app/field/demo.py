"""Demo history for the imported DansMaRue extract (which carries no workflow data).

Deterministic (hash of the DansMaRue id), set-based, idempotent, and marked `is_demo` on
both the reports and their events, so that it can never pass for real data. Shares follow
DansMaRue's published pattern: most reports acknowledged within a day, most of those
resolved within days (graffiti and bulky items fastest), a few rejected or kept under watch.
"""

from sqlalchemy import text
from sqlalchemy.orm import Session

# u(n): a uniform number in [0, 1) from the report's DansMaRue id
_U = "(('x' || substr(md5(c.source_id || '{salt}'), 1, 8))::bit(32)::bigint / 4294967296.0)"

PLAN = f"""
CREATE TEMP TABLE demo_plan ON COMMIT DROP AS
SELECT c.id, c.created_at,
       c.created_at + make_interval(secs => (2 + -ln(1 - {_U.format(salt='a')}) * 20) * 3600) AS ack_at,
       {_U.format(salt='b')} AS u_outcome,
       {_U.format(salt='c')} AS u_kind,
       -ln(1 - {_U.format(salt='d')}) * CASE s.code WHEN 'graffitis' THEN 60 WHEN 'encombrants' THEN 30
           WHEN 'voirie' THEN 240 WHEN 'eclairage' THEN 200 ELSE 100 END AS resolve_hours
FROM contributions c LEFT JOIN services s ON s.id = c.service_id
WHERE c.source = 'dansmarue' AND c.kind = 'report' AND c.status = 'new' AND NOT c.is_demo
  AND NOT EXISTS (SELECT 1 FROM status_events e WHERE e.contribution_id = c.id)
"""

# the planned events, in a temp table of their own: the UPDATE below reads them from there,
# never from status_events, whose statistics do not know yet about the rows just added (a
# plan built on them took minutes on a fresh database)
EVENTS = """
CREATE TEMP TABLE demo_events ON COMMIT DROP AS
SELECT id, ack_at AS created_at, 'new' AS from_status, 'acknowledged' AS to_status, NULL AS reason,
       NULL AS resolution
FROM demo_plan WHERE u_outcome < 0.92
UNION ALL
SELECT id, ack_at + make_interval(secs => resolve_hours * 3600), 'acknowledged', 'resolved', NULL,
       CASE WHEN u_kind < 0.88 THEN 'fixed' WHEN u_kind < 0.96 THEN 'not_fixed' ELSE 'forwarded' END
FROM demo_plan WHERE u_outcome < 0.78
UNION ALL
SELECT id, ack_at + interval '6 hours', 'acknowledged', 'rejected',
       CASE WHEN u_kind < 0.5 THEN 'location_unclear' WHEN u_kind < 0.8 THEN 'photo_needed'
            ELSE 'not_city_remit' END, NULL
FROM demo_plan WHERE u_outcome >= 0.78 AND u_outcome < 0.84
UNION ALL
SELECT id, ack_at + interval '2 days', 'acknowledged', 'monitoring', NULL, NULL
FROM demo_plan WHERE u_outcome >= 0.84 AND u_outcome < 0.86
"""

INSERT_EVENTS = """
INSERT INTO status_events (contribution_id, created_at, from_status, to_status, reason,
                           resolution, public_note, is_demo)
SELECT id, created_at, from_status, to_status, reason, resolution, NULL, true FROM demo_events
"""

APPLY = """
UPDATE contributions c SET
    is_demo = true,
    status = last.to_status,
    acknowledged_at = p.ack_at,
    closed_at = CASE WHEN last.to_status IN ('resolved', 'rejected') THEN last.created_at END,
    resolution = last.resolution,
    rejection_reason = last.reason,
    updated_at = last.created_at
FROM demo_plan p
JOIN (SELECT DISTINCT ON (e.id) e.id, e.to_status, e.created_at, e.resolution, e.reason
      FROM demo_events e
      ORDER BY e.id, e.created_at DESC) last ON last.id = p.id
WHERE c.id = p.id
"""


def create_demo_history(session: Session) -> dict[str, int]:
    session.execute(text(PLAN))
    session.execute(text("ANALYZE demo_plan"))  # a temp table has no statistics otherwise
    planned = session.scalar(text("SELECT count(*) FROM demo_plan"))
    if planned:
        session.execute(text(EVENTS))
        session.execute(text("ANALYZE demo_events"))
        session.execute(text(INSERT_EVENTS))
        session.execute(text(APPLY))
        # the ones left "new" are part of the demo too (and are not planned again)
        session.execute(text("UPDATE contributions SET is_demo = true "
                             "WHERE id IN (SELECT id FROM demo_plan) AND NOT is_demo"))
    counts = dict(session.execute(text(
        "SELECT status, count(*) FROM contributions WHERE is_demo GROUP BY status")).all())
    session.execute(text("DROP TABLE demo_plan, demo_events" if planned else "DROP TABLE demo_plan"))
    return {"planned": planned, **counts}
