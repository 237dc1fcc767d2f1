"""Missions in API Engagement's format (betagouv/api-engagement, api/docs/openapi.yaml, the
`MissionV2` schema): the feed other platforms (JeVeuxAider, Je m'engage pour Paris…) read, and
the import of their missions into an organisation.

Mapping, both ways:
* `clientId` is the mission's stable id: `cartagora-<id>` for ours, the publisher's own
  (`external_id`) for an imported one, so that a second import of the same item updates it.
* `addresses[]` are the mission's places, each with its `location {lat, lon}` (the schema's own
  example puts it there; the import needs it: Cartagora places are points in Paris).
* `startAt`/`endAt` are the first slot's start and the last slot's end; `places` the places
  still free. An imported item becomes one open period from `startAt` to `endAt` with
  `places` as its capacity (API Engagement has no slots). A recurring Cartagora mission also
  carries its rule in `metadata` (a free string of the schema: `{"cartagora": {"recurrence":
  …}}`), so that two Cartagora instances exchange it whole; API Engagement ignores it.
* `requirements` are the skills plus "Âge minimum : N ans"; `openToMinors` says whether the
  minimum age is under 18.

The import is bounded (IMPORT_MAX items) and item by item: an invalid item is skipped with its
errors (field paths under the item), the others land.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time

from flask import current_app
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session, noload

from app import policy
from app.accounts.models import User
from app.errors import AppError, FieldError, ValidationFailed
from app.messages import message
from app.missions import schedule, services
from app.missions.domains import ACTIVITIES, DOMAINS
from app.missions.models import OPEN_STATUSES, PUBLIC_STATUSES, Mission, Organisation
from geo.errors import GeometryError
from geo.validation import check_inside_paris

IMPORT_MAX = 500
CLIENT_ID_MAX = 200
TYPE = "benevolat"
AGE_LINE = "Âge minimum : {age} ans"
AGE_RE = re.compile(r"^\s*Âge minimum\s*:\s*(\d{1,2})\s*ans?\s*$", re.IGNORECASE)
WEEKDAYS_FR = ("Lundis", "Mardis", "Mercredis", "Jeudis", "Vendredis", "Samedis", "Dimanches")
PARIS_ADDRESS = {"city": "Paris", "departmentCode": "75", "departmentName": "Paris",
                 "region": "Île-de-France", "country": "FR"}
POSTCODE_RE = re.compile(r"\b75(?:0(?:0[1-9]|1\d|20)|116)\b")


# ---- export -----------------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as API Engagement writes its dates."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def client_id(mission: Mission) -> str:
    if mission.source == "api_engagement" and mission.external_id:
        return mission.external_id
    return f"cartagora-{mission.id}"


def postal_code(arrondissement: int | None) -> str | None:
    """75001 … 75020 (the 16th's northern half, 75116, is not told apart: a place is located
    by its arrondissement polygon)."""
    return None if arrondissement is None else f"750{arrondissement:02d}"


def places_count(mission: Mission, now: datetime) -> int:
    """The places still free on its open slots (a recurring mission's: on its next session,
    since each session takes its own team); when none is free, its capacity (API Engagement
    wants at least 1)."""
    open_slots = [s for s in mission.slots if services._open(mission, s, now)]
    if mission.schedule == "recurring":
        remaining = open_slots[0].capacity - open_slots[0].taken if open_slots else 0
        capacity = mission.slots[0].capacity if mission.slots else 1
    else:
        remaining = sum(s.capacity - s.taken for s in open_slots)
        capacity = sum(s.capacity for s in mission.slots)
    return remaining if remaining >= 1 else max(capacity, 1)


def _day_fr(day: datetime) -> str:
    from babel.dates import format_datetime

    return format_datetime(day, "d MMMM yyyy", tzinfo=schedule.PARIS, locale="fr")


def _hour(moment: datetime) -> str:
    return moment.astimezone(schedule.PARIS).strftime("%H:%M")


def schedule_text(mission: Mission) -> str | None:
    """The rhythm as API Engagement's free text, in French (its audience's language):
    "Samedis 10:00–12:00", "Le 3 décembre 2026, 10:00–12:00", "Du 1 décembre 2026 au …"."""
    slots = mission.slots
    if not slots:
        return None
    if mission.schedule == "recurring" and mission.recurrence:
        rule = mission.recurrence
        days = [WEEKDAYS_FR[d] for d in rule["weekdays"]]
        days = [days[0]] + [d.lower() for d in days[1:]]
        return f"{', '.join(days)} {rule['start_time']}–{rule['end_time']}"
    if mission.schedule == "open_period":
        start, end = slots[0].starts_at, slots[0].ends_at
        if end is None:
            return f"À partir du {_day_fr(start)}"
        if _day_fr(start) == _day_fr(end):
            return f"Le {_day_fr(start)}, {_hour(start)}–{_hour(end)}"
        return f"Du {_day_fr(start)} au {_day_fr(end)}"
    if len(slots) == 1:
        s = slots[0]
        return f"Le {_day_fr(s.starts_at)}, {_hour(s.starts_at)}–{_hour(s.ends_at)}"
    return f"{len(slots)} créneaux du {_day_fr(slots[0].starts_at)} au {_day_fr(slots[-1].starts_at)}"


def _address(place) -> dict:
    pt = to_shape(place.geom)
    return {"street": place.label or None, "postalCode": postal_code(place.arrondissement_id),
            **PARIS_ADDRESS, "location": {"lat": round(pt.y, 7), "lon": round(pt.x, 7)}}


def _organisation(org: Organisation) -> dict:
    found = POSTCODE_RE.search(org.address or "")
    return {"organizationClientId": f"cartagora-organisation-{org.id}", "organizationName": org.name,
            "organizationRNA": org.rna, "organizationSiren": org.siren,
            "organizationDescription": org.description or None, "organizationUrl": org.website,
            "organizationFullAddress": org.address or None,
            "organizationPostCode": found.group(0) if found else None, "organizationCity": "Paris"}


def feed_page(session: Session, open_only: bool, limit: int, skip: int) -> tuple[int, list[Mission]]:
    """The public missions (open ones, or every public status), by id: (total, the page)."""
    where = [services.public_clause(), services.still_open(),
             Mission.status.in_(OPEN_STATUSES if open_only else PUBLIC_STATUSES)]
    total = session.scalar(select(func.count()).select_from(Mission).where(*where))
    rows = session.scalars(select(Mission).options(noload(Mission.links)).where(*where).order_by(Mission.id)
                           .limit(limit).offset(skip)).all()
    return total, list(rows)


def to_api_engagement(session: Session, mission: Mission) -> dict:
    """One mission as an API Engagement `MissionV2` (plus the v0 `activity` string)."""
    now = datetime.now(UTC)
    slots = mission.slots
    ends = [s.ends_at for s in slots]
    base = current_app.config["PUBLIC_URL"]
    requirements = list(mission.skills)
    if mission.min_age:
        requirements.append(AGE_LINE.format(age=mission.min_age))
    metadata = None
    if mission.schedule == "recurring" and mission.recurrence:
        metadata = json.dumps({"cartagora": {"recurrence": mission.recurrence}}, separators=(",", ":"))
    return {
        "clientId": client_id(mission),
        "title": mission.title,
        "description": mission.description,
        "domain": mission.domain,
        "activities": list(mission.activities),
        "activity": ", ".join(mission.activities) or None,
        "remote": mission.remote,
        "type": TYPE,
        "startAt": iso(slots[0].starts_at) if slots else None,
        "endAt": iso(None if not slots or None in ends else max(ends)),
        "places": places_count(mission, now),
        "schedule": schedule_text(mission),
        "addresses": [_address(p) for p in mission.places],
        "openToMinors": mission.min_age is None or mission.min_age < 18,
        "reducedMobilityAccessible": mission.reduced_mobility_accessible,
        "requirements": requirements,
        "softSkills": list(mission.skills),
        "applicationUrl": f"{base}/missions/{mission.id}",
        "metadata": metadata,
        **_organisation(mission.organisation),
        "statusCode": "ACCEPTED" if services.is_public(mission) else "PENDING",
        "createdAt": iso(mission.created_at),
        "updatedAt": iso(mission.updated_at),
        "postedAt": iso(mission.published_at),
    }


# ---- import -----------------------------------------------------------------------------------

class ItemErrors(Exception):
    """An item that cannot be imported, and every reason found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__([e.code for e in errors])
        self.errors = errors


def _text(item: dict, key: str, errors: list, *, required: bool = False, max_len: int | None = None,
          min_len: int = 0) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(FieldError(key, "required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(key, "not_a_string"))
        return None
    value = value.strip()
    if max_len is not None and len(value) > max_len:
        errors.append(FieldError(key, "too_long", {"max": max_len}))
    elif len(value) < min_len:
        errors.append(FieldError(key, "too_short", {"min": min_len}))
    return value


def _strings(item: dict, key: str, errors: list) -> list[str]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(FieldError(key, "invalid_value"))
        return []
    return [v.strip() for v in value if v.strip()]


def _flag(value) -> bool | None:
    """A v2 boolean or a v0 string ("yes"/"no", "true"/"false")."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.lower() in ("yes", "true", "1", "no", "false", "0"):
        return value.lower() in ("yes", "true", "1")
    return None


def _moment(item: dict, key: str, errors: list) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.append(FieldError(key, "invalid_date"))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _places(item: dict, remote: str, errors: list) -> list[dict]:
    """Each address with a location in Paris → a place; another department's or a point
    outside the city is an error (a fully remote mission may have none)."""
    addresses = item.get("addresses") or []
    if not isinstance(addresses, list):
        errors.append(FieldError("addresses", "invalid_value"))
        return []
    if len(addresses) > services.PLACES_MAX:
        errors.append(FieldError("addresses", "too_many_items", {"max": services.PLACES_MAX}))
        return []
    legacy = item.get("location") if len(addresses) == 1 else None  # v0: one top-level location
    places = []
    for i, address in enumerate(addresses):
        field = f"addresses.{i}"
        if not isinstance(address, dict):
            errors.append(FieldError(field, "invalid_value"))
            continue
        department = address.get("departmentCode") or address.get("department")
        code = address.get("postalCode") or address.get("zip")
        if (department not in (None, "75")) or (isinstance(code, str) and code and not code.startswith("75")):
            errors.append(FieldError(field, "outside_paris"))
            continue
        location = address.get("location") or legacy
        try:
            lon, lat = float(location["lon"]), float(location["lat"])
            if lon != lon or lat != lat:
                raise ValueError
        except (TypeError, KeyError, ValueError):
            errors.append(FieldError(f"{field}.location", "required"))
            continue
        point = Point(lon, lat)
        try:
            check_inside_paris(point)
        except GeometryError as exc:
            errors.append(FieldError(field, exc.code, exc.params))
            continue
        street = address.get("street") if isinstance(address.get("street"), str) else ""
        label = (street or " ".join(x for x in (code, address.get("city")) if isinstance(x, str))).strip()
        places.append({"label": label[:services.LABEL_MAX], "geometry": point})
    if not places and remote != "full" and not any(e.field.startswith("addresses") for e in errors):
        errors.append(FieldError("addresses", "place_required"))
    return places


def _recurrence(item: dict, capacity: int) -> dict | None:
    """A Cartagora instance's recurrence carried in `metadata`, or None."""
    raw = item.get("metadata")
    if not isinstance(raw, str) or '"cartagora"' not in raw or len(raw) > 2000:
        return None
    try:
        rule = json.loads(raw)["cartagora"]["recurrence"]
        return {"weekdays": [int(d) for d in rule["weekdays"]][:7],
                "start_time": time.fromisoformat(rule["start_time"]),
                "end_time": time.fromisoformat(rule["end_time"]),
                "from_date": date.fromisoformat(rule["from_date"]),
                "until_date": date.fromisoformat(rule["until_date"]),
                "capacity": int(rule.get("capacity") or capacity)}
    except (ValueError, KeyError, TypeError):
        return None


def _age(requirements: list[str], open_to_minors: bool | None) -> int | None:
    for line in requirements:
        found = AGE_RE.match(line)
        if found:
            return int(found.group(1))
    return 18 if open_to_minors is False else None


def from_api_engagement(item) -> dict:
    """An API Engagement mission → the services' mission values (every key), or ItemErrors
    with every problem found (field paths as the item's)."""
    if not isinstance(item, dict):
        raise ItemErrors([FieldError("", "invalid_value", detail="A mission is a JSON object.")])
    errors: list[FieldError] = []
    _text(item, "clientId", errors, required=True, max_len=CLIENT_ID_MAX)
    title = _text(item, "title", errors, required=True, max_len=services.TITLE_MAX, min_len=services.TITLE_MIN)
    description = _text(item, "description", errors, max_len=services.DESCRIPTION_MAX) or ""
    domain = item.get("domain") or "autre"
    if domain not in DOMAINS:
        errors.append(FieldError("domain", "invalid_value", detail=f"Unknown domain: {str(domain)[:50]}."))
    activities = _strings(item, "activities", errors)
    unknown = [a for a in activities if a not in ACTIVITIES]
    if unknown:
        errors.append(FieldError("activities", "invalid_value", detail=f"Unknown activity: {unknown[0][:50]}."))
    if len(activities) > services.LIST_ITEMS_MAX:
        errors.append(FieldError("activities", "too_many_items", {"max": services.LIST_ITEMS_MAX}))
    remote = item.get("remote") or "no"
    if remote not in ("no", "possible", "full"):
        errors.append(FieldError("remote", "invalid_value"))
        remote = "no"
    if item.get("type") not in (None, TYPE):
        errors.append(FieldError("type", "invalid_value", detail="Only volunteering (benevolat) is hosted here."))
    places = _places(item, remote, errors)
    capacity = item.get("places", 1)
    if capacity is None:
        capacity = 1
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not \
            services.CAPACITY[0] <= capacity <= services.CAPACITY[1]:
        errors.append(FieldError("places", "out_of_range", {"min": services.CAPACITY[0],
                                                            "max": services.CAPACITY[1]}))
        capacity = 1
    starts_at = _moment(item, "startAt", errors) or datetime.now(UTC).replace(microsecond=0)
    ends_at = _moment(item, "endAt", errors)
    if ends_at is not None and ends_at <= starts_at:
        errors.append(FieldError("endAt", "ends_before_start"))
    requirements = _strings(item, "requirements", errors)
    skills = _strings(item, "softSkills", errors) or [r for r in requirements if not AGE_RE.match(r)]
    if len(skills) > services.LIST_ITEMS_MAX or any(len(s) > services.ITEM_MAX for s in skills):
        errors.append(FieldError("softSkills", "too_many_items", {"max": services.LIST_ITEMS_MAX})
                      if len(skills) > services.LIST_ITEMS_MAX
                      else FieldError("softSkills", "too_long", {"max": services.ITEM_MAX}))
    if errors:
        raise ItemErrors(errors)
    recurrence = _recurrence(item, capacity)
    return {
        "title": title, "description": description, "domain": domain, "activities": activities,
        "remote": remote, "places": places,
        "schedule": "recurring" if recurrence else "open_period",
        "slots": None, "recurrence": recurrence,
        "period": None if recurrence else {"starts_at": starts_at, "ends_at": ends_at, "capacity": capacity},
        "min_age": _age(requirements, _flag(item.get("openToMinors"))),
        "skills": skills, "accessibility": "",
        "reduced_mobility_accessible": bool(_flag(item.get("reducedMobilityAccessible"))),
        "links": [],
    }


def _field_errors(exc: AppError) -> list[dict]:
    return [e.to_dict() for e in exc.errors] or [{"field": "", "code": exc.code,
                                                  "detail": message(exc.code, exc.params)}]


def _save(session: Session, org: Organisation, user: User, external_id: str, values: dict) -> str:
    """Create or update one mission; publish it when it has a slot open to sign-ups."""
    mission = session.scalar(select(Mission).where(Mission.organisation_id == org.id,
                                                   Mission.external_id == external_id))
    if mission is None:
        mission = services.create_mission(session, org, user, values, source="api_engagement",
                                          external_id=external_id)
        outcome = "created"
    else:
        changes = dict(values)
        if mission.status != "draft":  # slots are the volunteers' commitments: kept once published
            for key in ("schedule", "slots", "recurrence", "period"):
                changes.pop(key)
        services.update_mission(session, mission, user, changes)
        outcome = "updated"
    if mission.status == "draft" and any(services._open(mission, s) for s in mission.slots):
        services.change_state(session, mission, user, "publish", None)
    return outcome


def import_missions(session: Session, org: Organisation, user: User, items: list) -> dict:
    """Import API Engagement missions into `org` as `user` (a member): each item created, or
    updated when the organisation already holds its clientId, or skipped with its errors;
    each in its own savepoint, so one failure leaves the others."""
    policy.require(session, user, "organisation.manage", org)
    if len(items) > IMPORT_MAX:
        raise ValidationFailed([FieldError("data", "too_many_items", {"max": IMPORT_MAX})])
    report = {"created": 0, "updated": 0, "skipped": []}
    seen: set[str] = set()
    for i, item in enumerate(items):
        cid = item.get("clientId") if isinstance(item, dict) else None
        cid = cid if isinstance(cid, str) else None
        try:
            values = from_api_engagement(item)
            if cid in seen:
                raise ItemErrors([FieldError("clientId", "invalid_value",
                                             detail="The same clientId twice in one import.")])
            seen.add(cid)
            with session.begin_nested():
                report[_save(session, org, user, cid, values)] += 1
        except ItemErrors as exc:
            report["skipped"].append({"index": i, "clientId": cid, "errors": [e.to_dict() for e in exc.errors]})
        except AppError as exc:
            if exc.status in (401, 403):
                raise
            report["skipped"].append({"index": i, "clientId": cid, "errors": _field_errors(exc)})
    return report
