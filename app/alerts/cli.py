"""`flask alerts digest`: queue the day's area alert e-mails (a daily timer runs it)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import db

alerts_cli = AppGroup("alerts", help="Area alerts.")


@alerts_cli.command("digest")
@click.option("--max-items", type=click.IntRange(1, 100), default=None,
              help="Items listed in an e-mail at most (the rest as a link to the map).")
def digest_command(max_items: int | None) -> None:
    """Queue into the outbox, for every alert not done today (Paris time), the e-mail of what
    is new in its area. Running it again the same day queues nothing."""
    from app.alerts.services import DIGEST_ITEMS, digest

    done = digest(db.session, datetime.now(UTC), current_app.config["PUBLIC_URL"],
                  current_app.config["SECRET_KEY"], max_items or DIGEST_ITEMS)
    db.session.commit()
    click.echo(f"alerts: {done['alerts']}, e-mails queued: {done['emails']}")
