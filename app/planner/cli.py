"""`flask planner …`: rebuild and check the rollups, write the HTML report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import text

from app.db import db

planner_cli = AppGroup("planner", help="Planner statistics: rollups and reports.")

def rollup_differences(session) -> dict[str, int]:
    """Rows where a rollup differs from a recount of contributions (all zero when exact)."""
    from app.planner.models import RECOUNT_SQL

    return {name: session.scalar(text(sql)) for name, sql in RECOUNT_SQL.items()}


@planner_cli.command("rebuild")
def rebuild() -> None:
    """Recompute the fact table and every rollup from contributions."""
    started = time.perf_counter()
    n = db.session.scalar(text("SELECT planner_rebuild()"))
    db.session.commit()
    click.echo(f"planner: {n} facts, rollups rebuilt in {time.perf_counter() - started:.1f} s")


@planner_cli.command("check")
def check() -> None:
    """Compare every rollup with a recount from contributions; exit 1 on any difference."""
    diffs = rollup_differences(db.session)
    for name, n in diffs.items():
        click.echo(f"{name}: {n} differing rows")
    if any(diffs.values()):
        sys.exit(1)


@planner_cli.command("report")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", default="report", show_default=True)
@click.option("--category", help="Type or sub-type codes, comma-separated.")
@click.option("--status", help="Statuses or open/closed, comma-separated.")
@click.option("--since", help="YYYY-MM-DD (Paris).")
@click.option("--until", help="YYYY-MM-DD (Paris, inclusive).")
@click.option("--arrondissement", help="Numbers, comma-separated.")
@click.option("--quartier", help="Numbers, comma-separated.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def report(out: Path, lang: str, **filters) -> None:
    """Write the planner's report (key figures, tables, charts, leafmap map) to OUT."""
    from pydantic import ValidationError

    from app.planner import services
    from app.planner.report import build_report
    from app.planner.schemas import StatsQuery

    args = {k: v for k, v in filters.items() if v}
    started = time.perf_counter()
    try:
        query = StatsQuery.model_validate(args)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    req = services.stats_request(db.session, query, True)
    html = build_report(db.session, req, progress=lambda msg: click.echo(msg, err=True), lang=lang)
    out.write_text(html, encoding="utf-8")
    click.echo(f"report: {out} ({len(html) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
