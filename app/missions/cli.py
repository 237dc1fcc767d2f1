"""`flask missions …`: import missions in API Engagement's format, close the ended ones, load
the demo missions."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.db import db

missions_cli = AppGroup("missions", help="Volunteer missions.")

DEMO_FILE = Path(__file__).resolve().parent.parent.parent / "data" / "demo" / "missions.json"
# the demo organisations' owner: no password, an address under `.invalid` (RFC 2606: never
# delivered, and the outbox skips it), a name that says what it is
DEMO_EMAIL = "demo-missions@cartagora.invalid"
DEMO_NAME = "Associations de démonstration"
OFFSET = re.compile(r"^\+(\d{1,3})d(?: (\d{2}):(\d{2}))?$")


def _items(path: Path) -> list:
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise click.ClickException("the file holds neither a list nor {\"data\": [...]}")
    return items


def _print_report(report: dict) -> None:
    click.echo(f"created: {report['created']}, updated: {report['updated']}, skipped: {len(report['skipped'])}")
    for skipped in report["skipped"]:
        reasons = "; ".join(f"{e['field'] or '(item)'}: {e['code']}" for e in skipped["errors"])
        click.echo(f"  skipped #{skipped['index']} {skipped['clientId']}: {reasons}")


@missions_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organisation", "organisation_id", type=int, required=True, help="The organisation's id.")
def import_command(path: Path, organisation_id: int) -> None:
    """Import API Engagement missions (a JSON list, or {"data": [...]}) into an organisation,
    as its first owner. Missions it already holds (same clientId) are updated."""
    from app.accounts.models import User
    from app.missions.api_engagement import import_missions
    from app.missions.models import Organisation, OrganisationMember

    org = db.session.get(Organisation, organisation_id)
    if org is None:
        raise click.ClickException(f"no organisation {organisation_id}")
    owner_id = db.session.scalar(select(OrganisationMember.user_id).where(
        OrganisationMember.organisation_id == org.id, OrganisationMember.role == "owner")
        .order_by(OrganisationMember.created_at, OrganisationMember.user_id).limit(1))
    if owner_id is None:
        raise click.ClickException("the organisation has no owner")
    report = import_missions(db.session, org, db.session.get(User, owner_id), _items(path))
    db.session.commit()
    _print_report(report)


@missions_cli.command("close-ended")
def close_ended_command() -> None:
    """Close the published missions none of whose slots is open any more (a cron job)."""
    from app.missions.services import close_ended

    count = close_ended(db.session)
    db.session.commit()
    click.echo(f"closed: {count}")


# ---- demo -------------------------------------------------------------------------------------

def _resolve(value, today: date):
    """`+7d 10:00` → that Paris wall-clock time 7 days from today (ISO, UTC); `+7d` → that date:
    the demo's dates stay in the future whenever it is loaded."""
    from app.missions.schedule import paris

    if isinstance(value, str):
        found = OFFSET.match(value)
        if found:
            day = today + timedelta(days=int(found.group(1)))
            if found.group(2) is None:
                return day.isoformat()
            return paris(day, time(int(found.group(2)), int(found.group(3)))).isoformat()
        return value
    if isinstance(value, dict):
        return {k: _resolve(v, today) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, today) for v in value]
    return value


def demo_items(path: Path = DEMO_FILE, today: date | None = None) -> tuple[list[dict], list[dict]]:
    """(organisations, items) of the demo file, dates resolved; `metadata` given as an object
    is written as the JSON text API Engagement's schema wants."""
    from app.missions.schedule import PARIS

    data = json.loads(path.read_text(encoding="utf-8"))
    today = today or datetime.now(UTC).astimezone(PARIS).date()
    items = []
    for item in data["data"]:
        item = _resolve(item, today)
        if isinstance(item.get("metadata"), dict):
            item["metadata"] = json.dumps(item["metadata"])
        items.append(item)
    return data["organisations"], items


def _demo_owner(session):
    from app.accounts.models import User

    user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        user = User(email=DEMO_EMAIL, display_name=DEMO_NAME, password_hash=None, roles=["resident"],
                    email_verified_at=datetime.now(UTC))
        session.add(user)
        session.flush()
    return user


def load_demo(session) -> dict:
    """The demo organisations (created verified, owned by the demo account) and their missions
    (through the import: a second run updates them, creates nothing)."""
    from app.missions.api_engagement import import_missions
    from app.missions.models import Organisation, OrganisationMember

    owner = _demo_owner(session)
    organisations, items = demo_items()
    report = {"organisations": 0, "created": 0, "updated": 0, "skipped": []}
    for spec in organisations:
        org = session.scalar(select(Organisation).where(Organisation.rna == spec["rna"]))
        if org is None:
            # verified directly: a fictional association, no moderator's decision to record
            org = Organisation(name=spec["name"], rna=spec["rna"], description=spec["description"],
                               address=spec["address"], status="verified", verified_at=datetime.now(UTC),
                               created_by_id=owner.id)
            session.add(org)
            session.flush()
            session.add(OrganisationMember(organisation_id=org.id, user_id=owner.id, role="owner",
                                           added_by_id=owner.id))
            session.flush()
            session.refresh(org)
            report["organisations"] += 1
        mine = [item for item in items if item.get("organizationRNA") == spec["rna"]]
        part = import_missions(session, org, owner, mine)
        report["created"] += part["created"]
        report["updated"] += part["updated"]
        report["skipped"] += part["skipped"]
    return report


@missions_cli.command("demo")
def demo_command() -> None:
    """Load the clearly fictional demo organisations ("(démo)") and their missions, dated from
    today (data/demo/missions.json). Running it again creates nothing new."""
    report = load_demo(db.session)
    db.session.commit()
    click.echo(f"demo organisations created: {report['organisations']}")
    _print_report(report)
