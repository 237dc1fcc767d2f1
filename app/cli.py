"""Command-line tools: `flask db …`, `flask geo …`, `flask users create`, `flask import …`,
`flask outbox deliver`, `flask maintenance purge`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.config import ROOT
from app.db import db

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
geo_cli = AppGroup("geo", help="Reference geography, categories and addresses.")
users_cli = AppGroup("users", help="Accounts.")
import_cli = AppGroup("import", help="Bulk imports of open data.")
outbox_cli = AppGroup("outbox", help="Notification e-mails.")
demo_cli = AppGroup("demo", help="Demo data (always marked as such).")
maintenance_cli = AppGroup("maintenance", help="Housekeeping, from a daily timer.")


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"
    )
    cfg.attributes["url"] = url or current_app.config["DATABASE_URL"]
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    command.upgrade(alembic_config(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. base, -1)."""
    command.downgrade(alembic_config(), revision)


@db_cli.command("current")
def db_current() -> None:
    command.current(alembic_config())


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Create an empty migration file to fill in (with its downgrade)."""
    command.revision(alembic_config(), message=message)


@geo_cli.command("load-areas")
def load_areas() -> None:
    """Load the 20 arrondissements and 80 quartiers (Ville de Paris, ODbL)."""
    from app.areas.services import load_areas as load

    n_arr, n_qu = load(db.session)
    db.session.commit()
    click.echo(f"areas: {n_arr} arrondissements, {n_qu} quartiers")


@geo_cli.command("load-categories")
def load_categories() -> None:
    """Add the services, DansMaRue report types and sub-types, and proposal themes missing."""
    from app.areas.services import load_categories as load

    n = load(db.session)
    db.session.commit()
    click.echo(f"categories added: {n}")


@geo_cli.command("load-addresses")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Reload even if addresses are already loaded.")
def load_addresses(path: Path | None, force: bool) -> None:
    """Load the Base Adresse Nationale for Paris (Licence Ouverte 2.0)."""
    from app.areas.models import Address, Street
    from app.areas.services import ADDRESSES_FILE, load_streets
    from app.areas.services import load_addresses as load

    existing = db.session.scalar(select(func.count()).select_from(Address))
    if existing and not force:
        click.echo(f"addresses: {existing} already loaded (use --force to reload)")
        if not db.session.scalar(select(func.count()).select_from(Street)):  # before c5d6e7f00021
            click.echo(f"streets: {load_streets(db.session)} built from them")
            db.session.commit()
        return
    started = time.perf_counter()
    n = load(db.session, path or ADDRESSES_FILE)
    db.session.commit()
    click.echo(f"addresses: {n} loaded in {time.perf_counter() - started:.1f} s")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--role", "roles", multiple=True, default=["resident"], show_default=True,
              type=click.Choice(["resident", "agent", "supervisor", "planner", "moderator", "admin"]))
@click.option("--name", "display_name", help="Public display name (default: the e-mail's name).")
def users_create(email: str, password: str, roles: tuple[str, ...], display_name: str | None) -> None:
    """Create an account with roles (the first admin, agents, planners)."""
    from app.accounts.services import MIN_PASSWORD, create_user
    from app.errors import Conflict

    if len(password) < MIN_PASSWORD:
        raise click.UsageError(f"the password must be at least {MIN_PASSWORD} characters long")
    try:
        user = create_user(db.session, email, password, display_name or email.split("@")[0][:60], roles)
    except Conflict:
        raise click.UsageError(f"an account already uses {email}") from None
    db.session.commit()
    click.echo(f"user {user.id}: {user.email} roles={','.join(user.roles)}")


@import_cli.command("dansmarue")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--full", is_flag=True,
              help="The file is the whole export: also delete the imported reports it no longer has.")
@click.option("--bulk/--no-bulk", default=None,
              help="Bypass the roll-up triggers and recount the roll-ups set-wise "
                   "(default: from dansmarue.BULK_MIN_ROWS new ids).")
@click.option("--show-rejected", default=20, show_default=True, help="Rejected rows to list.")
@click.option("--quiet-if-loaded", is_flag=True, help="Say one line if nothing new was imported.")
def import_dansmarue(path: Path, full: bool, bulk: bool | None, show_rejected: int, quiet_if_loaded: bool) -> None:
    """Import a DansMaRue export (CSV, comma or semicolon, or the same gzipped) as reports:
    new ids are added, re-published ids updated, in one transaction that readers never wait for."""
    from app.importers import dansmarue

    started = time.perf_counter()
    with dansmarue.open_csv(path) as f, click.progressbar(
        length=dansmarue.count_rows(path), label=f"reading {path.name}", file=sys.stderr
    ) as bar:
        summary = dansmarue.run(db.session, f, progress=bar.update, full=full, bulk=bulk)
    db.session.commit()
    elapsed = time.perf_counter() - started
    if quiet_if_loaded and summary.imported == summary.updated == summary.deleted == 0 and not summary.rejected:
        click.echo(f"dansmarue: {summary.read} rows already imported")
        return
    rate = summary.read / elapsed if elapsed else 0
    click.echo(f"rows read:             {summary.read}")
    click.echo(f"imported:              {summary.imported}")
    click.echo(f"updated:               {summary.updated}")
    if full:
        click.echo(f"deleted (not in file): {summary.deleted}")
    click.echo(f"skipped as duplicates: {summary.duplicates}")
    click.echo(f"rejected:              {len(summary.rejected)}")
    for reason, n in sorted(summary.rejected_by_reason.items()):
        click.echo(f"  {reason}: {n}")
    for line, source_id, reason in summary.rejected[:show_rejected]:
        click.echo(f"  line {line or '?'} {source_id or '(no id)'}: {reason}")
    if len(summary.rejected) > show_rejected:
        click.echo(f"  … and {len(summary.rejected) - show_rejected} more")
    click.echo(f"mode:                  {summary.mode}" + "".join(f"; {note}" for note in summary.notes))
    click.echo(f"time: {elapsed:.2f} s ({rate:,.0f} rows/s)")


@users_cli.command("scope")
@click.option("--email", required=True)
@click.option("--service", "services_", multiple=True, help="Service code (repeat; none = all).")
@click.option("--arrondissement", "arrondissements", multiple=True, type=click.IntRange(1, 20),
              help="Arrondissement (repeat; none = all).")
def users_scope(email: str, services_: tuple[str, ...], arrondissements: tuple[int, ...]) -> None:
    """Set which reports an agent works on (services × arrondissements)."""
    from app.accounts.models import User
    from app.areas.models import Service
    from app.field.services import set_scopes

    user = db.session.scalar(select(User).where(User.email == email.lower()))
    if user is None:
        raise click.UsageError(f"no account {email}")
    ids = {s.code: s.id for s in db.session.scalars(select(Service))}
    unknown = [s for s in services_ if s not in ids]
    if unknown:
        raise click.UsageError(f"unknown services {unknown}; known: {sorted(ids)}")
    pairs = [(ids[s] if s else None, a) for s in (services_ or [None]) for a in (arrondissements or [None])]
    set_scopes(db.session, user, pairs)
    db.session.commit()
    click.echo(f"{user.email}: {len(pairs)} scope(s)")


@outbox_cli.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering every 30 seconds.")
def outbox_deliver(loop: bool) -> None:
    """Send pending notifications (SMTP if MAIL_SERVER is set, else var/mail/outbox.mbox)."""
    from app.field.delivery import deliver_pending

    while True:
        sent, failed = deliver_pending(db.session, current_app.config)
        db.session.commit()
        click.echo(f"outbox: {sent} sent, {failed} failed (will retry)")
        if not loop:
            return
        time.sleep(30)


@maintenance_cli.command("purge")
def maintenance_purge() -> None:
    """Forget idempotency keys past their 24 hours, and tokens and sessions that ended."""
    from app.accounts.services import purge_tokens
    from app.api.idempotency import purge

    keys, tokens = purge(db.session), purge_tokens(db.session)
    db.session.commit()
    click.echo(f"purge: {keys} idempotency key(s), {tokens} ended token(s) and session(s)")


@demo_cli.command("history")
def demo_history() -> None:
    """Give the imported extract a plausible, clearly marked demo workflow history."""
    from app.field.demo import create_demo_history

    counts = create_demo_history(db.session)
    db.session.commit()
    click.echo("demo history: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def register_cli(app: Flask) -> None:
    for group in (db_cli, geo_cli, users_cli, import_cli, outbox_cli, demo_cli, maintenance_cli):
        app.cli.add_command(group)
    from app.opendata.cli import opendata_cli  # flask opendata export (make opendata)
    app.cli.add_command(opendata_cli)
