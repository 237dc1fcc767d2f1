"""The roll-up triggers plan small statements once per connection instead of once per statement.

Every roll-up trigger on `contributions` (planner_, tiles_, queue_counts_, my_counts_ on
insert, update, delete) ran its work as `EXECUTE $sql$…$sql$`: PostgreSQL planned the large
WITH … INSERT … ON CONFLICT statements again for every written statement. For one report that
planning was most of the cost: 4.1 ms of triggers per INSERT at 5M, 1.4 ms with the plans
kept (bench/README.md, `writes`).

Static SQL in PL/pgSQL keeps its plan for the connection, but a plan made for the first
statement's transition table is then reused whatever its size: one made for a single row
(nested loops over the transition tables) would be quadratic for a 100,000-row UPDATE. So
each EXECUTE becomes

    IF (SELECT count(*) FROM <transition table>) <= SMALL THEN <the same SQL, static>
    ELSE EXECUTE <the same SQL> END IF;

— the cached plan only ever sees at most SMALL rows, and larger statements are planned for
their size, as before. The functions' text is rewritten in place (from pg_proc), so that
their one definition stays in the migrations that wrote them; a later migration that
recreates one of these functions should apply `static_small()` again.

Revision ID: d2e3f4a00028
Revises: c1d2e3f00027
Create Date: 2026-11-26 16:30
"""

import re

from alembic import op

revision = "d2e3f4a00028"
down_revision = "c1d2e3f00027"
branch_labels = None
depends_on = None

FAMILIES = ("planner", "tiles", "queue_counts", "my_counts")
# rows of a statement up to which the trigger's cached (static) plan is used
SMALL = 64
# the transition table counted, per kind of trigger
COUNTED = {"insert": "new_rows", "update": "new_rows", "delete": "old_rows"}
_EXECUTE = re.compile(r"EXECUTE \$sql\$(?P<sql>.*?)\$sql\$(?P<into>\s*INTO\s+\w+)?\s*;", re.S)
_GUARDED = re.compile(r"IF \(SELECT count\(\*\) FROM \w+\) <= \d+ THEN /\* static \*/.*?"
                      r"ELSE (?P<execute>EXECUTE \$sql\$.*?;) END IF; /\* static \*/", re.S)


def static_small(source: str, counted: str) -> str:
    """`source` with each EXECUTE $sql$…$sql$ [INTO x]; guarded as above."""
    def guard(m: re.Match) -> str:
        into = m.group("into") or ""
        return (f"IF (SELECT count(*) FROM {counted}) <= {SMALL} THEN /* static */ "
                f"{m.group('sql')}{into}; ELSE {m.group(0)} END IF; /* static */")
    return _EXECUTE.sub(guard, source)


def dynamic_only(source: str) -> str:
    return _GUARDED.sub(lambda m: m.group("execute"), source)


def _rewrite(transform) -> None:
    bind = op.get_bind()
    for family in FAMILIES:
        for kind, counted in COUNTED.items():
            name = f"{family}_on_{kind}"
            source = bind.exec_driver_sql(
                f"SELECT prosrc FROM pg_proc WHERE proname = '{name}' AND pronargs = 0").scalar()
            if source is None:
                continue
            new = transform(source, counted)
            assert "$static_body$" not in new
            bind.exec_driver_sql(
                (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                 f"AS $static_body${new}$static_body$").replace("%", "%%"))


def upgrade() -> None:
    _rewrite(static_small)


def downgrade() -> None:
    _rewrite(lambda source, _counted: dynamic_only(source))
