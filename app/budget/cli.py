"""`flask budget import-winners PATH`: the city's past winning projects as past cycles."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import AppGroup

from app.db import db

budget_cli = AppGroup("budget", help="Participatory budget: the city's past editions, the count.")


@budget_cli.command("import-winners")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_winners(path: Path) -> None:
    """Import bp_projets_gagnants.csv (Ville de Paris, ODbL): one published cycle per edition,
    its winning projects geocoded with the BAN addresses. Running it again adds nothing."""
    from app.budget.importer import run

    started = time.perf_counter()
    summary = run(db.session, path)
    db.session.commit()
    click.echo(f"rows read:        {summary.rows}")
    click.echo(f"cycles:           {len(summary.cycles)} ({summary.cycles_new} new): "
               + ", ".join(f"{year}: {n}" for year, n in summary.cycles.items()))
    click.echo(f"projects:         {summary.new} new, {summary.existing} already imported")
    if summary.new:
        placed = sum(summary.located.values())
        click.echo(f"geocoded ({placed} new projects):")
        labels = {"address": "at the address", "street": "on the street",
                  "arrondissement": "approximate (arrondissement)", "none": "no place (Paris-wide)"}
        for kind, label in labels.items():
            click.echo(f"  {label + ':':32} {summary.located[kind]:5}  {summary.share(kind):6.1%}")
        click.echo("  without a place of their own: " + ", ".join(
            f"{why}: {n}" for why, n in summary.unplaced.most_common()))
    if summary.unmapped_progress:
        click.echo("progress values without a delivery status: "
                   + ", ".join(f"{k or '(empty)'}: {n}" for k, n in summary.unmapped_progress.most_common()))
    if summary.skipped_editions:
        click.echo(f"editions skipped (a cycle of that year exists, not imported): {summary.skipped_editions}")
    click.echo(f"done in {time.perf_counter() - started:.1f} s "
               "(data: Ville de Paris — opendata.paris.fr, ODbL; addresses: BAN, Licence Ouverte 2.0)")


@budget_cli.command("count")
@click.argument("year", type=int)
def count_vote(year: int) -> None:
    """Count the vote of YEAR's cycle once it is over (what an admin's "Count the vote" does):
    each envelope by greedy and by the Method of Equal Shares, winners by the cycle's rule."""
    from sqlalchemy import select

    from app.budget import ballots
    from app.budget.models import Cycle
    from app.errors import AppError

    cycle_id = db.session.scalar(select(Cycle.id).where(Cycle.year == year))
    if cycle_id is None:
        raise click.ClickException(f"no participatory budget for {year}")
    started = time.perf_counter()
    try:
        out = ballots.count(db.session, None, cycle_id, command_line=True)
    except AppError as error:
        raise click.ClickException(f"not counted: {error.code} {error.params or ''}") from None
    db.session.commit()
    for envelope in out:
        click.echo(f"envelope {envelope['envelope']:>6}: {envelope['ballots']:>7} ballots, "
                   f"greedy {len(envelope['greedy'])} winners, equal shares {len(envelope['equal_shares'])}")
    click.echo(f"counted in {time.perf_counter() - started:.1f} s")
