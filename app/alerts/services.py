"""Area alerts: follow an arrondissement, a quartier or a radius around an address, and get a
daily e-mail of what is new there (through the outbox), with a one-click unsubscribe.

The digest reads each alert's window [seen_until, now - SETTLE) and then moves `seen_until`
to its end: consecutive windows touch, so an item is never in two digests and never falls
between two. SETTLE covers the transactions still open when the digest runs: a contribution's
`created_at` is its transaction's start, and it becomes visible only at its commit.
Only what the public lists show is told (app's one visibility clause, geo.filters): neither
hidden nor withdrawn ones, and never who wrote them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from geoalchemy2.shape import from_shape, to_shape
from itsdangerous import BadSignature, URLSafeSerializer
from shapely.geometry import Point, mapping
from sqlalchemy import Numeric, func, select, text
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.alerts.models import KIND_VALUES, AreaAlert
from app.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.messages import in_both
from geo.filters import contributions_where

ALERTS_MAX = 20  # per account
RADIUS_M = (100, 2000, 500)  # min, max, default
RADII = (100, 250, 500, 1000, 2000)  # the page's choices
LABEL_MAX = 200
DIGEST_ITEMS = 10  # at most this many items in an e-mail, then "and N more"
SETTLE = timedelta(minutes=10)
PARIS = ZoneInfo("Europe/Paris")
TOKEN_SALT = "area-alert-unsubscribe"

# each area's members: the first required, the others allowed; another area's refused
SHAPES = {"arrondissement": ("arrondissement",), "quartier": ("quartier",),
          "radius": ("point", "radius_m", "label")}
MEMBERS = ("arrondissement", "quartier", "point", "radius_m", "label")

KIND_LABELS = {"report": _l("Report"), "proposal": _l("Proposal")}


def _now() -> datetime:
    return datetime.now(UTC)


# ---- create, list, delete ---------------------------------------------------------------------

def create_alert(session: Session, user: User | None, values: dict) -> AreaAlert:
    """A new alert of `user` from the API's values (`area` and its shape's members, `kinds`).
    Its window starts now: only what comes after is told. Refused past ALERTS_MAX
    (`too_many_alerts`) or when the account already follows the same area (`alert_exists`)."""
    policy.require(session, user, "alert.create")
    _check_shape(values)
    # the account's row lock serialises its creates: the count and the duplicate test hold
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    count = session.scalar(select(func.count()).select_from(AreaAlert).where(AreaAlert.user_id == user.id))
    if count >= ALERTS_MAX:
        raise Conflict("too_many_alerts", {"max": ALERTS_MAX})
    alert = AreaAlert(user_id=user.id, area=values["area"], kinds=values.get("kinds") or "both",
                      seen_until=_now())
    if alert.area == "arrondissement":
        alert.arrondissement_id = values["arrondissement"]
    elif alert.area == "quartier":
        alert.quartier_id = values["quartier"]
    else:
        point = values["point"]
        alert.geom = from_shape(Point(round(point.x, 6), round(point.y, 6)), srid=4326)
        alert.radius_m = values.get("radius_m") or RADIUS_M[2]
        alert.label = (values.get("label") or "").strip()[:LABEL_MAX] or \
            f"{round(point.y, 5)}, {round(point.x, 5)}"
    if _duplicate(session, alert):
        raise Conflict("alert_exists")
    session.add(alert)
    session.flush()
    return alert


def _check_shape(values: dict) -> None:
    allowed = SHAPES[values["area"]]
    errors = [FieldError(allowed[0], "required")] if values.get(allowed[0]) is None else []
    errors += [FieldError(name, "not_allowed") for name in MEMBERS
               if name not in allowed and values.get(name) is not None]
    if errors:
        raise ValidationFailed(errors)


def _duplicate(session: Session, alert: AreaAlert) -> bool:
    same = select(AreaAlert.id).where(AreaAlert.user_id == alert.user_id, AreaAlert.area == alert.area)
    if alert.area == "arrondissement":
        same = same.where(AreaAlert.arrondissement_id == alert.arrondissement_id)
    elif alert.area == "quartier":
        same = same.where(AreaAlert.quartier_id == alert.quartier_id)
    else:  # as the unique index compares them: to the micro-degree
        p = to_shape(alert.geom)
        same = same.where(AreaAlert.radius_m == alert.radius_m,
                          func.round(func.ST_X(AreaAlert.geom).cast(Numeric()), 6) == round(p.x, 6),
                          func.round(func.ST_Y(AreaAlert.geom).cast(Numeric()), 6) == round(p.y, 6))
    return session.scalar(same.limit(1)) is not None


def list_alerts(session: Session, user: User) -> list[AreaAlert]:
    return list(session.scalars(select(AreaAlert).where(AreaAlert.user_id == user.id).order_by(AreaAlert.id)))


def alert_of(session: Session, user: User, alert_id: int) -> AreaAlert:
    """The account's own alert; another's is a 404 like a missing one (alerts are private)."""
    alert = session.scalar(select(AreaAlert).where(AreaAlert.id == alert_id, AreaAlert.user_id == user.id))
    if alert is None:
        raise NotFound("alert_not_found")
    return alert


def delete_alert(session: Session, alert: AreaAlert) -> None:
    session.delete(alert)
    session.flush()


# ---- what an alert says -----------------------------------------------------------------------

def _ordinal(n: int, lang: str) -> str:
    if lang == "fr":
        return "1er" if n == 1 else f"{n}e"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def area_names(session: Session) -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
    """({arrondissement: name}, {quartier: (name, arrondissement)}): the pages' choices."""
    arr = {r.id: r.name for r in session.execute(text("SELECT id, name FROM arrondissements ORDER BY id"))}
    qua = {r.id: (r.name, r.arrondissement_id) for r in session.execute(
        text("SELECT id, name, arrondissement_id FROM quartiers ORDER BY arrondissement_id, name"))}
    return arr, qua


def describe(session: Session, alert: AreaAlert, lang: str) -> str:
    """The followed area in words, in `lang` ("11e arrondissement (Popincourt)", "Within
    500 m of 12 Rue X")."""
    from flask_babel import force_locale

    with force_locale(lang):
        if alert.area == "arrondissement":
            name = session.scalar(text("SELECT name FROM arrondissements WHERE id = :i"),
                                  {"i": alert.arrondissement_id})
            return _("%(ordinal)s arrondissement (%(name)s)", ordinal=_ordinal(alert.arrondissement_id, lang),
                     name=name)
        if alert.area == "quartier":
            row = session.execute(text("SELECT name, arrondissement_id FROM quartiers WHERE id = :i"),
                                  {"i": alert.quartier_id}).one()
            return _("Quartier %(name)s (%(ordinal)s)", name=row.name,
                     ordinal=_ordinal(row.arrondissement_id, lang))
        return _("Within %(radius)s m of %(label)s", radius=alert.radius_m, label=alert.label)


def list_url(session: Session, alert: AreaAlert, since: datetime | None = None) -> str:
    """The map page's list on the alert's area (a path with its query): an arrondissement is a
    filter; a quartier and a radius are a view centred on them."""
    params: dict = {}
    kinds = KIND_VALUES[alert.kinds]
    if len(kinds) == 1:
        params["kind"] = kinds[0]
    if since is not None:  # what is new, whatever its status (the map's default hides closed ones)
        params["since"] = since.astimezone(PARIS).date().isoformat()
        params["status"] = "all"
    if alert.area == "arrondissement":
        params["arrondissement"] = alert.arrondissement_id
    else:
        if alert.area == "quartier":
            lon, lat = session.execute(text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM quartiers "
                "WHERE id = :i) q"), {"i": alert.quartier_id}).one()
            zoom = 15
        else:
            point = to_shape(alert.geom)
            lon, lat = point.x, point.y
            zoom = 17 if alert.radius_m <= 250 else 16 if alert.radius_m <= 500 else 15 if alert.radius_m <= 1000 else 14
        params.update(lat=f"{lat:.5f}", lon=f"{lon:.5f}", z=zoom)
    return "/?" + urlencode(params)


def alert_out(session: Session, alert: AreaAlert, lang: str) -> dict:
    return {
        "id": alert.id,
        "area": alert.area,
        "arrondissement": alert.arrondissement_id,
        "quartier": alert.quartier_id,
        "geometry": mapping(to_shape(alert.geom)) if alert.geom is not None else None,
        "radius_m": alert.radius_m,
        "label": alert.label,
        "kinds": alert.kinds,
        "description": describe(session, alert, lang),
        "list_url": list_url(session, alert),
        "created_at": alert.created_at.isoformat(),
        "last_sent_at": alert.last_sent_at.isoformat() if alert.last_sent_at else None,
    }


# ---- one-click unsubscribe --------------------------------------------------------------------

def _signer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=TOKEN_SALT)


def unsubscribe_token(secret: str, alert: AreaAlert) -> str:
    """A signed token naming the alert and its account: it needs no sign-in, and never
    expires (an old e-mail's link still works), but it names one alert only."""
    return _signer(secret).dumps([alert.id, alert.user_id])


def alert_for_token(session: Session, secret: str, token: str) -> tuple[bool, AreaAlert | None]:
    """(the token is genuine, its alert if it still exists)."""
    try:
        alert_id, user_id = _signer(secret).loads(token)
    except (BadSignature, ValueError, TypeError):
        return False, None
    alert = session.scalar(select(AreaAlert).where(AreaAlert.id == alert_id, AreaAlert.user_id == user_id)
                           .with_for_update())
    return True, alert


# ---- the daily digest -------------------------------------------------------------------------

def new_items(session: Session, alert: AreaAlert, since: datetime, until: datetime,
              limit: int) -> tuple[list[dict], int]:
    """(the first `limit` public contributions created in [since, until) in the alert's area,
    oldest first; how many there are in all)."""
    rows, total = [], 0
    for kind in KIND_VALUES[alert.kinds]:
        clauses, params = contributions_where(
            kind, arrondissements=[alert.arrondissement_id] if alert.area == "arrondissement" else None,
            quartiers=[alert.quartier_id] if alert.area == "quartier" else None, since=since, until=until)
        if alert.area == "radius":
            p = to_shape(alert.geom)
            params.update(lon=p.x, lat=p.y, radius=alert.radius_m)
            # metres on the spheroid; the box around the circle lets the GiST index on geom
            # (degrees) find the candidates first (a degree of longitude is ~73 km here)
            clauses.append("c.geom && ST_Expand(ST_Envelope(ST_Buffer(ST_SetSRID(ST_MakePoint(:lon, :lat), "
                           "4326)::geography, :radius)::geometry), 0.00002)")
            clauses.append("ST_DWithin(c.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, "
                           ":radius)")
        params["limit"] = limit
        found = session.execute(text(f"""
            SELECT c.id, c.kind, c.title, c.status, c.created_at, k.label_fr, k.label_en,
                   count(*) OVER () AS total
            FROM contributions c JOIN categories k ON k.id = c.category_id
            WHERE {" AND ".join(clauses)}
            ORDER BY c.created_at, c.id LIMIT :limit"""), params).mappings().all()
        if found:
            total += found[0]["total"]
        rows += [dict(r) for r in found]
    rows.sort(key=lambda r: (r["created_at"], r["id"]))
    return rows[:limit], total


UNSUBSCRIBE = _l("Stop this alert (one click, no sign-in needed):")
MANAGE = _l("All my alerts:")


def _each_language(make) -> tuple[str, str]:
    """(French, English) of `make(lang)`, called under that locale."""
    from flask_babel import force_locale

    out = []
    for lang in ("fr", "en"):
        with force_locale(lang):
            out.append(str(make(lang)))
    return out[0], out[1]


def _day_words(moment: datetime, lang: str) -> str:
    from babel.dates import format_date

    return format_date(moment.astimezone(PARIS).date(), "d MMMM", locale=lang)


def digest_mail(session: Session, alert: AreaAlert, items: list[dict], total: int, since: datetime,
                public_url: str, secret: str) -> tuple[str, str, dict]:
    """(subject, body, headers) of an alert's e-mail: French, then English, then the items
    (titles are the residents' own words, in no one language), the rest as a link to the map."""
    token = unsubscribe_token(secret, alert)
    unsubscribe = f"{public_url}/alerts/unsubscribe/{token}"
    subject = " / ".join(_each_language(lambda lang: _("What is new: %(area)s", area=describe(session, alert, lang))))
    intro = _each_language(lambda lang: ngettext(
        "%(num)d new contribution since %(since)s in the area you follow: %(area)s.",
        "%(num)d new contributions since %(since)s in the area you follow: %(area)s.", total,
        area=describe(session, alert, lang), since=_day_words(since, lang)))
    lines = [intro[0], intro[1], ""]
    for item in items:
        kind = " · ".join(in_both(KIND_LABELS[item["kind"]]))
        category = item["label_fr"] if item["label_fr"] == item["label_en"] else \
            f"{item['label_fr']} · {item['label_en']}"
        lines += [f"- {item['title']} ({kind} — {category})", f"  {public_url}/c/{item['id']}"]
    if total > len(items):
        more = _each_language(lambda lang: ngettext("… and %(num)d more on the map:",
                                                    "… and %(num)d more on the map:", total - len(items)))
        lines += ["", f"{more[0]} / {more[1]}", f"{public_url}{list_url(session, alert, since)}"]
    lines += ["", "-- ", " / ".join(in_both(UNSUBSCRIBE)), unsubscribe,
              " / ".join(in_both(MANAGE)) + f" {public_url}/me/alerts"]
    headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return "[Cartagora] " + subject, "\n".join(lines) + "\n", headers


def digest(session: Session, now: datetime, public_url: str, secret: str,
           max_items: int = DIGEST_ITEMS) -> dict[str, int]:
    """Queue today's e-mail of every alert not done today (Paris day): what is new in its
    window, at most `max_items` listed. Idempotent: a second run the same day finds every
    alert done; concurrent runs share the alerts out (SKIP LOCKED). A window with nothing new
    moves on too, and sends nothing. Accounts deleted, disabled or of other applications
    (.invalid) get nothing."""
    from app.field.models import OutboxMessage

    today: date = now.astimezone(PARIS).date()
    until = now - SETTLE
    done = {"alerts": 0, "emails": 0}
    rows = session.execute(
        select(AreaAlert, User.email).join(User, User.id == AreaAlert.user_id)
        .where((AreaAlert.digest_on.is_(None)) | (AreaAlert.digest_on < today),
               User.is_active, User.deleted_at.is_(None), ~User.email.like("%.invalid"))
        .order_by(AreaAlert.id).with_for_update(of=AreaAlert, skip_locked=True)).all()
    for alert, email in rows:
        done["alerts"] += 1
        alert.digest_on = today
        if until <= alert.seen_until:
            continue
        since = alert.seen_until
        items, total = new_items(session, alert, since, until, max_items)
        alert.seen_until = until
        if not total:
            continue
        subject, body, headers = digest_mail(session, alert, items, total, since, public_url, secret)
        session.add(OutboxMessage(recipient=email, subject=subject, body=body, headers=headers))
        alert.last_sent_at = now
        done["emails"] += 1
    session.flush()
    return done
