"""`flask petitions …`: close the petitions past their deadline (from a timer, e.g. hourly;
reads close them lazily too), and check the counters against a recount."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import text

from app.db import db

petitions_cli = AppGroup("petitions", help="E-petitions: deadlines and counters.")


@petitions_cli.command("close-expired")
def close_expired() -> None:
    """Close every petition still collecting signatures past its deadline."""
    from app.petitions.services import close_expired as close

    n = close(db.session)
    db.session.commit()
    click.echo(f"petitions: {n} closed")


@petitions_cli.command("check")
def check() -> None:
    """Compare each petition's counters with a recount of its signatures; exit 1 on any
    difference."""
    wrong = db.session.execute(text("""
        SELECT p.id FROM petitions p
        WHERE p.signatures_count <> (SELECT count(*) FROM petition_signatures s WHERE s.petition_id = p.id)
           OR p.arrondissement_counts <> ARRAY(
                SELECT (SELECT count(*) FROM petition_signatures s
                        WHERE s.petition_id = p.id AND coalesce(s.arrondissement, 21) = a)::integer
                FROM generate_series(1, 21) a ORDER BY a)
        ORDER BY p.id
    """)).scalars().all()
    click.echo(f"petitions: {len(wrong)} with wrong counters {wrong[:20]}")
    if wrong:
        sys.exit(1)
