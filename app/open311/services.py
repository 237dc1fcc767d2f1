"""Open311 GeoReport v2 over the reports: services, requests, and FixMyStreet's updates.

Every report sub-type (and a type without sub-types) is a service, its DansMaRue type the
`group`. A request is a report as the public sees it — no reporter, no e-mail, the coarse
place of a sensitive category — with `open`/`closed` as the spec says and our own status
beside them (`extended_attributes`), and the last public note as `status_notes`. Times carry
their offset (Europe/Paris).

Writes come from other applications with an API key (issued by an admin, app.admin): the key
acts through its account (agent on the key's services), so the one policy decides what it may
create and which reports it may update, and the history names the application. Personal
fields a client sends (`email`, names, phone) are neither stored nor shown: its users are its
own, and it reads their reports' progress from `servicerequestupdates`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.admin.models import ApiKey
from app.admin.services import authenticate_api_key
from app.areas.services import category_index, geocode
from app.contributions import services as contributions
from app.contributions.models import REPORT_OPEN, Contribution
from app.contributions.services import TITLE_MAX, TITLE_MIN, visible_or_404
from app.errors import AppError, FieldError, NotFound, ValidationFailed
from app.field import services as field
from app.field import workflow
from app.messages import message
from app.open311.schemas import JURISDICTION, REQUESTS_MAX, STATUS_GROUPS
from geo.errors import GeometryError
from geo.validation import check_inside_paris

PARIS = ZoneInfo("Europe/Paris")
SPEC = "http://wiki.open311.org/GeoReport_v2"
UPDATES_DEFAULT = timedelta(hours=24)


class Forbidden311(AppError):
    status, code, title = 403, "invalid_api_key", "Forbidden"


def when(moment: datetime | None) -> str | None:
    return moment.astimezone(PARIS).isoformat(timespec="seconds") if moment else None


def check_jurisdiction(jurisdiction_id: str | None) -> None:
    if jurisdiction_id not in (None, JURISDICTION):
        raise NotFound("unknown_jurisdiction")


# ---- services ----------------------------------------------------------------------------

def service_list(session: Session, lang: str) -> list[dict]:
    """Every active report category that is a leaf of the tree, grouped by its type."""
    index = category_index(session)
    out = []
    for top in index.tree("report"):
        leaves = top["children"] or [top]
        for c in leaves:
            if not c["active"]:
                continue
            labels = [c["label"][lang], c["label"]["en" if lang == "fr" else "fr"]]
            out.append({
                "service_code": c["code"],
                "service_name": c["label"][lang],
                "description": f"{top['label'][lang]} — {c['label'][lang]}",
                "metadata": False,
                "type": "realtime",
                "keywords": ", ".join(dict.fromkeys(labels + [top["label"][lang]])),
                "group": top["label"][lang],
            })
    return out


def service_definition(session: Session, code: str) -> dict:
    """Our services ask nothing beyond the spec's fields: an empty list of attributes."""
    cat = category_index(session).by_code.get(code)
    if cat is None or cat.kind != "report" or not cat.active:
        raise NotFound("unknown_service")
    return {"service_code": code, "attributes": []}


# ---- requests ----------------------------------------------------------------------------

REQUEST_SQL = """
SELECT c.id, c.status, c.title, c.description, c.created_at, c.updated_at, c.closed_at,
       c.planned_for, c.resolution, c.rejection_reason, c.category_id, c.arrondissement_id,
       q.name AS quartier, ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat,
       CASE WHEN c.exact_geom IS NULL THEN c.address END AS address,
       s.name_fr AS agency_fr, s.name_en AS agency_en,
       (SELECT ph.sha256 FROM photos ph WHERE ph.contribution_id = c.id ORDER BY ph.position LIMIT 1) AS photo,
       o.media_url,
       (SELECT e.public_note FROM status_events e WHERE e.contribution_id = c.id
          AND e.public_note IS NOT NULL AND e.public_note <> 'still_there'
        ORDER BY e.id DESC LIMIT 1) AS note
FROM contributions c
JOIN quartiers q ON q.id = c.quartier_id
LEFT JOIN services s ON s.id = c.service_id
LEFT JOIN open311_requests o ON o.contribution_id = c.id
WHERE c.kind = 'report' AND NOT c.hidden AND c.withdrawn_at IS NULL AND {where}
ORDER BY c.created_at DESC, c.id DESC
LIMIT :limit
"""


def requests(session: Session, query, lang: str, base_url: str) -> list[dict]:
    """GET requests: by ids (which override every filter), else by services, statuses and a
    window of at most 90 days (the last 90 by default); 1,000 at most, newest first."""
    params: dict = {"limit": REQUESTS_MAX}
    if query.service_request_id:
        where, params["ids"] = "c.id = ANY(:ids)", query.service_request_id
    else:
        start, end = query.window()
        clauses, params["start"], params["end"] = ["c.created_at >= :start", "c.created_at < :end"], start, end
        if query.service_code:
            index = category_index(session)
            ids = [c.id for code in query.service_code if (c := index.by_code.get(code)) and c.kind == "report"]
            clauses.append("c.category_id = ANY(:cats)")
            params["cats"] = ids
        if query.status:
            clauses.append("c.status = ANY(:statuses)")
            params["statuses"] = [s for group in query.status for s in STATUS_GROUPS[group]]
        where = " AND ".join(clauses)
    rows = session.execute(text(REQUEST_SQL.format(where=where)), params).mappings().all()
    labels: dict[str, str] = {}
    return [_request(session, r, lang, base_url, labels) for r in rows]


def one_request(session: Session, request_id: int, lang: str, base_url: str) -> list[dict]:
    rows = session.execute(text(REQUEST_SQL.format(where="c.id = :id")),
                           {"id": request_id, "limit": 1}).mappings().all()
    if not rows:
        raise NotFound("unknown_request")
    return [_request(session, rows[0], lang, base_url)]


def _request(session: Session, r, lang: str, base_url: str, labels: dict[str, str] | None = None) -> dict:
    """One request; `labels` (status -> label in `lang`) is shared by the rows of one answer:
    forcing the locale costs ~0.2 ms a row, 1,000 rows a page."""
    cat = category_index(session).by_id[r["category_id"]]
    labels = {} if labels is None else labels
    if r["status"] not in labels:
        labels[r["status"]] = workflow.label(workflow.LABELS, r["status"], lang)
    status_label = labels[r["status"]]
    media = f"{base_url}/media/photos/{r['photo']}.jpg" if r["photo"] else r["media_url"]
    description = r["title"] + (f"\n\n{r['description']}" if r["description"] else "")
    return {
        "service_request_id": str(r["id"]),
        "status": "open" if r["status"] in REPORT_OPEN else "closed",
        "status_notes": f"{status_label}. {r['note']}" if r["note"] else status_label,
        "service_name": cat.label_en if lang == "en" else cat.label_fr,
        "service_code": cat.code,
        "description": description,
        "agency_responsible": r["agency_en"] if lang == "en" else r["agency_fr"],
        "service_notice": None,
        "requested_datetime": when(r["created_at"]),
        "updated_datetime": when(r["closed_at"] if r["status"] not in REPORT_OPEN and r["closed_at"]
                                 else r["updated_at"]),
        "expected_datetime": when(datetime.combine(r["planned_for"], datetime.min.time(), PARIS))
        if r["planned_for"] else None,
        "address": r["address"],
        "address_id": None,
        "zipcode": f"750{r['arrondissement_id']:02d}",
        "lat": round(r["lat"], 6),
        "long": round(r["lon"], 6),
        "media_url": media,
        "extended_attributes": {
            "cartagora_status": r["status"], "arrondissement": r["arrondissement_id"],
            "quartier": r["quartier"], "url": f"{base_url}/c/{r['id']}",
        },
    }


def key_for(session: Session, raw: str | None) -> tuple[ApiKey, User]:
    """The live key and its account, or 403 `invalid_api_key`."""
    key = authenticate_api_key(session, raw)
    account = session.get(User, key.user_id) if key is not None and key.user_id else None
    if account is None or not account.is_active:
        raise Forbidden311()
    return key, account


def create_request(session: Session, form, media_dir, max_photo_bytes: int, max_photos: int,
                   lang: str) -> dict:
    """POST requests: a report in the service `service_code`, at `lat`/`long`, or at the BAN
    address `address_id` or the best match of `address_string`."""
    key, account = key_for(session, form.api_key)
    cat = category_index(session).by_code.get(form.service_code)
    if cat is None or cat.kind != "report":
        raise NotFound("unknown_service")
    lon, lat, address = _place(session, form)
    try:
        check_inside_paris(Point(lon, lat))
    except GeometryError as exc:
        raise ValidationFailed([FieldError("lat", exc.code)], code=exc.code) from None
    text_ = (form.description or "").strip()
    title = (text_.splitlines()[0] if text_ else "")[:TITLE_MAX].strip()
    if len(title) < TITLE_MIN:
        title = (cat.label_fr)[:TITLE_MAX]
    values = {"title": title, "description": text_, "category_id": cat.id, "address": address,
              "geom": from_shape(Point(lon, lat), srid=4326), "source": "open311"}
    contribution, _ = contributions.create(session, "report", account, values, [], media_dir,
                                           max_photo_bytes, max_photos)
    session.execute(text("""
        INSERT INTO open311_requests (contribution_id, api_key_id, media_url, attributes)
        VALUES (:c, :k, :m, CAST(:a AS jsonb))"""),
        {"c": contribution.id, "k": key.id, "m": form.media_url, "a": _json(form.attribute)})
    session.flush()
    notice = message("routed_to", {"service": cat.service["name"][lang]}, lang) if cat.service else None
    return {"service_request_id": str(contribution.id), "service_notice": notice, "account_id": None}


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _place(session: Session, form) -> tuple[float, float, str | None]:
    given = [name for name, present in (("lat", form.lat is not None or form.long is not None),
                                        ("address_string", form.address_string),
                                        ("address_id", form.address_id)) if present]
    if len(given) != 1:
        raise ValidationFailed([FieldError("lat", "needs_one_location")], code="needs_one_location")
    if given == ["lat"]:
        if form.lat is None or form.long is None:
            missing = "long" if form.long is None else "lat"
            raise ValidationFailed([FieldError(missing, "required")])
        return form.long, form.lat, None
    if given == ["address_id"]:
        row = session.execute(text("SELECT ST_X(geom), ST_Y(geom), label FROM addresses WHERE id = :i"),
                              {"i": form.address_id}).first()
        if row is None:
            raise ValidationFailed([FieldError("address_id", "unknown_address")])
        return row[0], row[1], row[2]
    found = geocode(session, form.address_string, limit=1)
    if not found:
        raise ValidationFailed([FieldError("address_string", "unknown_address")])
    lon, lat = found[0]["geometry"]["coordinates"]
    return lon, lat, found[0]["properties"]["label"]


# ---- FixMyStreet's updates ----------------------------------------------------------------

OUR_STATUS = {"new": "open", "acknowledged": "investigating", "scheduled": "action_scheduled",
              "monitoring": "in_progress", "transferred": "internal_referral", "duplicate": "duplicate"}


def update_status(to_status: str, resolution: str | None, reason: str | None) -> str:
    """Our status as FixMyStreet's extended update status."""
    if to_status == "resolved":
        return {"not_fixed": "no_further_action", "forwarded": "not_councils_responsibility"}.get(
            resolution or "", "fixed")
    if to_status == "rejected":
        return "not_councils_responsibility" if reason == "not_city_remit" else "closed"
    return OUR_STATUS.get(to_status, "open")


def updates(session: Session, start: datetime | None, end: datetime | None, base_url: str) -> list[dict]:
    """Public status changes of visible reports between `start` and `end` (both or neither:
    then the last 24 hours; at most 90 days), oldest first, 1,000 at most."""
    if (start is None) != (end is None):
        raise ValidationFailed([FieldError("end_date" if end is None else "start_date", "required")])
    if start is None:
        end = datetime.now(UTC)
        start = end - UPDATES_DEFAULT
    if end <= start or end - start > timedelta(days=90):
        raise ValidationFailed([FieldError("end_date", "period_too_long", {"max": 90})])
    rows = session.execute(text("""
        SELECT e.id, e.contribution_id, e.created_at, e.to_status, e.public_note, e.resolution,
               e.reason, e.photo_sha256
        FROM status_events e JOIN contributions c ON c.id = e.contribution_id
        WHERE e.created_at >= :start AND e.created_at < :end AND c.kind = 'report'
          AND NOT c.hidden AND c.withdrawn_at IS NULL
        ORDER BY e.created_at, e.id LIMIT :limit
    """), {"start": start, "end": end, "limit": REQUESTS_MAX}).mappings().all()
    return [{
        "update_id": str(r["id"]),
        "service_request_id": str(r["contribution_id"]),
        "status": update_status(r["to_status"], r["resolution"], r["reason"]),
        "updated_datetime": when(r["created_at"]),
        "description": r["public_note"] if r["public_note"] != "still_there" else "",
        "media_url": f"{base_url}/media/photos/{r['photo_sha256']}.jpg" if r["photo_sha256"] else None,
        "external_status_code": r["to_status"],
    } for r in rows]


def post_update(session: Session, form) -> dict:
    """POST servicerequestupdates: move the report as its status says, with the description
    as the public note. The key's account must cover the report (the policy: its services).
    An update to the status the report already has changes nothing and answers the last one."""
    _, account = key_for(session, form.api_key)
    report = visible_or_404(session, "report", form.service_request_id, lock=True)
    req = _transition(report, form)
    if req is None:
        policy.require(session, account, "report.transition", report)
        last = session.scalar(text("SELECT max(id) FROM status_events WHERE contribution_id = :c"),
                              {"c": report.id})
        return {"update_id": str(last or 0), "service_request_id": str(report.id)}
    event = field.transition(session, report, account, req)
    return {"update_id": str(event.id), "service_request_id": str(report.id)}


def _transition(report: Contribution, form) -> field.TransitionRequest | None:
    note = form.description or None
    status = form.status
    if status in ("open", "investigating", "in_progress"):  # taken in hand (or reopened)
        if report.status == "acknowledged" or (status == "open" and report.status == "new"):
            return None
        return field.TransitionRequest("acknowledged", public_note=note)
    if status == "action_scheduled":
        if form.planned_for is None:
            raise ValidationFailed([FieldError("planned_for", "required")])
        return field.TransitionRequest("scheduled", public_note=note, planned_for=form.planned_for)
    if status in ("fixed", "closed"):
        if report.status == "resolved":
            return None
        return field.TransitionRequest("resolved", public_note=note, resolution="fixed")
    if status == "no_further_action":
        return field.TransitionRequest("resolved", public_note=note, resolution="not_fixed")
    if status == "not_councils_responsibility":
        return field.TransitionRequest("rejected", public_note=note, reason="not_city_remit")
    if status == "internal_referral":
        return field.TransitionRequest("transferred", public_note=note,
                                       transferred_to=note or "internal referral")
    # duplicate
    if form.duplicate_of is None:
        raise ValidationFailed([FieldError("duplicate_of", "required")])
    return field.TransitionRequest("duplicate", public_note=note, duplicate_of=form.duplicate_of)


def discovery(base_url: str, changeset: str) -> dict:
    return {
        "changeset": changeset,
        "contact": "Ville de Paris — Cartagora",
        "key_service": f"{base_url}/admin/api-keys (issued by the city's administrators)",
        "endpoints": [{
            "specification": SPEC,
            "url": f"{base_url}/open311/v2",
            "changeset": changeset,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }


def changeset(session: Session) -> str:
    """A sortable stamp that moves with the services (catalogue_version moves with every
    change to categories and services)."""
    return f"{session.scalar(text('SELECT version FROM catalogue_version')):012d}"

