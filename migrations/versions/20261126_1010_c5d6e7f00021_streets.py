"""Streets and squares for the address search, beside the house numbers.

The BAN holds house numbers only, so "Place de la République" found numbers of "Place de
la République Dominicaine" before any of the square's, and never the square itself. A
street here is one BAN street name in one postcode (a street crossing arrondissements is
one per postcode, as the BAN files it): its folded name (searched with pg_trgm, as
addresses.search), how many numbers it has, a point on it (the number nearest the
centroid of its numbers: a centroid alone may fall in a block, or in the Seine for a
curved quai) and the extent of its numbers, which the map zooms to.

The table is filled by `flask geo load-addresses` from the addresses (it fills it when
the addresses are already there and the streets are not).

`addresses.secondary` marks a point the search does not offer: the Paris file gives many
numbers more points under technical suffixes ("6 w", "13 bv", "p1"), beside the door's;
they are loaded as the plain number, for the nearest-address lookup, and only the door's
point (or the first, for a number with no plain point) is searched.

Revision ID: c5d6e7f00021
Revises: b4c5d6e00020
Create Date: 2026-11-26 10:10
"""

from alembic import op

revision = "c5d6e7f00021"
down_revision = "b4c5d6e00020"
branch_labels = None
depends_on = None


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql("""
    CREATE TABLE streets (
        id text PRIMARY KEY,
        name text NOT NULL,
        postcode varchar(5) NOT NULL,
        label text NOT NULL,
        search text NOT NULL,
        numbers integer NOT NULL CONSTRAINT ck_streets_numbers CHECK (numbers > 0),
        geom geometry(Point, 4326) NOT NULL,
        extent geometry(Geometry, 4326) NOT NULL,
        CONSTRAINT uq_streets_name_postcode UNIQUE (name, postcode)
    );
    CREATE INDEX ix_streets_search_trgm ON streets USING gist (search gist_trgm_ops);
    ALTER TABLE addresses ADD COLUMN secondary boolean NOT NULL DEFAULT false;
    """)


def downgrade() -> None:
    sql("DROP TABLE streets; ALTER TABLE addresses DROP COLUMN secondary")
