"""Administration: the category tree, services and routing, users' roles and scopes, and API
keys. Every change asks the policy (`admin.manage`), locks what it changes, and writes one
audit entry (app.moderation.services.audit) with what it replaced, in the same transaction.

A category change reaches the map at once: a new French label or code re-serialises the
stored Features of the category (trigger categories_reserialise), a category becoming
sensitive moves its contributions' public points (categories_sensitive), and the in-memory
tree of every process follows catalogue_version (app.areas.services.category_index).
Moving a category to another service re-routes its open reports (the agents' queues follow);
closed ones keep the service that handled them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import ROLES, User
from app.admin.models import ApiKey
from app.areas.models import Category, Service
from app.areas.services import reset_category_index
from app.contributions.models import REPORT_OPEN, Contribution
from app.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.field.models import AgentScope
from app.moderation.services import audit

KEY_PREFIX = "cg_"  # recognisable in logs and by secret scanners
USERS_MAX = 200


def _now() -> datetime:
    return datetime.now(UTC)


# ---- categories ---------------------------------------------------------------------------

def category_row(c: Category, parent: str | None) -> dict:
    return {
        "code": c.code, "kind": c.kind, "parent": parent,
        "label": {"fr": c.label_fr, "en": c.label_en},
        "service": c.service.code if c.service else None,
        "agent_only": c.agent_only, "sensitive": c.sensitive, "active": c.disabled_at is None,
        "position": c.position,
    }


def categories(session: Session, admin: User, kind: str | None = None) -> list[dict]:
    """Every category, tops first then their children, in display order, with the number of
    public contributions each holds: read from the vector tiles' area counts (exact, kept by
    trigger; a few thousand rows), not counted over the contributions (a scan at 5M)."""
    policy.require(session, admin, "admin.manage")
    counts = dict(session.execute(text(
        "SELECT category_id, sum(n)::int FROM tile_area_counts GROUP BY category_id")).all())
    query = select(Category).order_by(Category.position, Category.code)
    rows = list(session.scalars(query.where(Category.kind == kind) if kind else query))
    out = []
    for top in (c for c in rows if c.parent_id is None):
        out.append({**category_row(top, None), "contributions": counts.get(top.id, 0)})
        out.extend({**category_row(c, top.code), "contributions": counts.get(c.id, 0)}
                   for c in rows if c.parent_id == top.id)
    return out


def _category(session: Session, code: str, lock: bool = False) -> Category:
    query = select(Category).where(Category.code == code)
    cat = session.scalar(query.with_for_update(of=Category) if lock else query)
    if cat is None:
        raise NotFound("not_found")
    return cat


def _service(session: Session, code: str | None) -> Service | None:
    if code is None:
        return None
    service = session.scalar(select(Service).where(Service.code == code))
    if service is None:
        raise ValidationFailed([FieldError("service", "invalid_value")])
    return service


def _parent(session: Session, kind: str, code: str | None, child: Category | None = None) -> Category | None:
    """A parent is a top-level category of the same kind; the tree has two levels."""
    if code is None:
        return None
    parent = session.scalar(select(Category).where(Category.code == code))
    if parent is None or parent.kind != kind or parent.parent_id is not None or \
            (child is not None and parent.id == child.id):
        raise ValidationFailed([FieldError("parent", "invalid_parent")])
    return parent


def create_category(session: Session, admin: User, values: dict) -> dict:
    """A new category: `values` has kind, code, label_fr, label_en and optionally parent,
    service, agent_only, sensitive, position."""
    policy.require(session, admin, "admin.manage")
    if session.scalar(select(Category.id).where(Category.code == values["code"])):
        raise ValidationFailed([FieldError("code", "already_exists")])
    parent = _parent(session, values["kind"], values.get("parent"))
    service = _service(session, values.get("service"))
    if service is None and parent is not None:
        service = parent.service
    cat = Category(code=values["code"], kind=values["kind"], parent_id=parent.id if parent else None,
                   label_fr=values["label_fr"], label_en=values["label_en"],
                   service_id=service.id if service else None,
                   agent_only=values.get("agent_only", False), sensitive=values.get("sensitive", False),
                   position=values.get("position", 0))
    session.add(cat)
    session.flush()
    audit(session, admin, "category.create", "category", cat.code, None,
          values={k: v for k, v in values.items() if v is not None})
    reset_category_index()
    return category_row(cat, parent.code if parent else None)


CATEGORY_FIELDS = ("label_fr", "label_en", "parent", "service", "agent_only", "sensitive", "active",
                   "position")


def update_category(session: Session, admin: User, code: str, changes: dict) -> dict:
    """Change what `changes` names (CATEGORY_FIELDS); the rest stays."""
    policy.require(session, admin, "admin.manage")
    cat = _category(session, code, lock=True)
    parent_code = session.scalar(select(Category.code).where(Category.id == cat.parent_id)) \
        if cat.parent_id else None
    before = {"label_fr": cat.label_fr, "label_en": cat.label_en, "parent": parent_code,
              "service": cat.service.code if cat.service else None, "agent_only": cat.agent_only,
              "sensitive": cat.sensitive, "active": cat.disabled_at is None, "position": cat.position}
    changed = {k: v for k, v in changes.items() if k in CATEGORY_FIELDS and before[k] != v}
    rerouted = 0
    if "parent" in changed:
        if session.scalar(select(Category.id).where(Category.parent_id == cat.id).limit(1)):
            raise ValidationFailed([FieldError("parent", "has_children")])
        parent = _parent(session, cat.kind, changed["parent"], cat)
        cat.parent_id = parent.id if parent else None
        parent_code = parent.code if parent else None
    if "service" in changed:
        if cat.kind != "report":
            raise ValidationFailed([FieldError("service", "invalid_value")])
        service = _service(session, changed["service"])
        cat.service_id = service.id if service else None
        # the open reports follow to the new team; closed ones keep the team that handled them
        rerouted = session.execute(update(Contribution).where(
            Contribution.category_id == cat.id, Contribution.status.in_(REPORT_OPEN),
        ).values(service_id=cat.service_id).execution_options(synchronize_session=False)).rowcount
    for key in ("label_fr", "label_en", "agent_only", "sensitive", "position"):
        if key in changed:
            setattr(cat, key, changed[key])
    if "active" in changed:
        cat.disabled_at = None if changed["active"] else _now()
    if not changed:
        return {**category_row(cat, parent_code), "rerouted": 0}
    session.flush()  # the triggers re-serialise and move what the change reaches
    session.expire(cat, ["service"])
    audit(session, admin, "category.update", "category", cat.code, None,
          original={k: before[k] for k in changed}, changes=changed, rerouted=rerouted)
    reset_category_index()
    return {**category_row(cat, parent_code), "rerouted": rerouted}


# ---- services -----------------------------------------------------------------------------

def services(session: Session, admin: User) -> list[dict]:
    policy.require(session, admin, "admin.manage")
    counts = dict(session.execute(select(Category.service_id, func.count()).group_by(Category.service_id)).all())
    return [{"code": s.code, "name": {"fr": s.name_fr, "en": s.name_en}, "categories": counts.get(s.id, 0)}
            for s in session.scalars(select(Service).order_by(Service.code))]


def create_service(session: Session, admin: User, code: str, name_fr: str, name_en: str) -> dict:
    policy.require(session, admin, "admin.manage")
    if session.scalar(select(Service.id).where(Service.code == code)):
        raise ValidationFailed([FieldError("code", "already_exists")])
    service = Service(code=code, name_fr=name_fr, name_en=name_en)
    session.add(service)
    session.flush()
    audit(session, admin, "service.create", "service", code, None, name_fr=name_fr, name_en=name_en)
    reset_category_index()
    return {"code": code, "name": {"fr": name_fr, "en": name_en}, "categories": 0}


def update_service(session: Session, admin: User, code: str, changes: dict) -> dict:
    policy.require(session, admin, "admin.manage")
    service = session.scalar(select(Service).where(Service.code == code).with_for_update())
    if service is None:
        raise NotFound("not_found")
    before = {"name_fr": service.name_fr, "name_en": service.name_en}
    changed = {k: v for k, v in changes.items() if k in before and before[k] != v}
    for key, value in changed.items():
        setattr(service, key, value)
    if changed:
        session.flush()
        audit(session, admin, "service.update", "service", code, None,
              original={k: before[k] for k in changed}, changes=changed)
        reset_category_index()
    count = session.scalar(select(func.count()).select_from(Category).where(Category.service_id == service.id))
    return {"code": code, "name": {"fr": service.name_fr, "en": service.name_en}, "categories": count}


# ---- users, roles and scopes --------------------------------------------------------------

def user_row(session: Session, user: User, scopes: list[dict] | None = None) -> dict:
    if scopes is None:
        scopes = _scopes(session, [user.id]).get(user.id, [])
    return {
        "id": user.id, "email": user.email, "display_name": user.display_name, "roles": list(user.roles),
        "two_factor": user.totp_enabled_at is not None, "email_verified": user.email_verified_at is not None,
        "banned": user.banned_at is not None, "created_at": user.created_at.isoformat(),
        "scopes": scopes,
    }


def _scopes(session: Session, user_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for row in session.execute(text("""
        SELECT s.user_id, sv.code AS service, s.arrondissement_id AS arrondissement
        FROM agent_scopes s LEFT JOIN services sv ON sv.id = s.service_id
        WHERE s.user_id = ANY(:ids) ORDER BY s.user_id, sv.code NULLS FIRST, s.arrondissement_id NULLS FIRST
    """), {"ids": user_ids}).mappings():
        out.setdefault(row["user_id"], []).append(
            {"service": row["service"], "arrondissement": row["arrondissement"]})
    return out


def users(session: Session, admin: User, q: str | None = None, role: str | None = None,
          limit: int = 50) -> list[dict]:
    """Accounts matching `q` (in the e-mail or the public name) and holding `role`, newest
    first; deleted accounts are not listed."""
    policy.require(session, admin, "admin.manage")
    query = select(User).where(User.deleted_at.is_(None))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.email.ilike(pattern), User.display_name.ilike(pattern)))
    if role:
        query = query.where(User.roles.any(role))
    found = list(session.scalars(query.order_by(User.id.desc()).limit(min(limit, USERS_MAX))))
    scopes = _scopes(session, [u.id for u in found])
    return [user_row(session, u, scopes.get(u.id, [])) for u in found]


def set_roles(session: Session, admin: User, user_id: int, roles: list[str]) -> dict:
    """Replace an account's roles (`resident` always stays). An admin cannot take away their
    own admin role: another admin must (no instance is left without one by mistake)."""
    policy.require(session, admin, "admin.manage")
    user = session.get(User, user_id, with_for_update={"of": User})
    if user is None or user.deleted_at is not None:
        raise NotFound("not_found")
    new = sorted({"resident", *roles}, key=ROLES.index)
    if user.id == admin.id and "admin" not in new:
        raise Conflict("cannot_demote_self")
    before = list(user.roles)
    if new != sorted(before, key=ROLES.index):
        user.roles = new
        session.flush()
        audit(session, admin, "user.roles", "user", user.id, None, original={"roles": before},
              changes={"roles": new})
    return user_row(session, user)


# ---- API keys -----------------------------------------------------------------------------

def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_row(session: Session, key: ApiKey) -> dict:
    codes = None
    if key.service_ids is not None:
        codes = list(session.scalars(select(Service.code).where(Service.id.in_(key.service_ids))
                                     .order_by(Service.code)))
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "services": codes,
            "contact": key.contact, "created_at": key.created_at.isoformat(),
            "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


def api_keys(session: Session, admin: User) -> list[dict]:
    policy.require(session, admin, "admin.manage")
    return [key_row(session, k) for k in session.scalars(select(ApiKey).order_by(ApiKey.id.desc()))]


def create_api_key(session: Session, admin: User, name: str, contact: str | None,
                   service_codes: list[str] | None) -> dict:
    """A new key for another application. The key itself is in the answer only: it is
    stored as its SHA-256."""
    policy.require(session, admin, "admin.manage")
    service_ids = None
    if service_codes is not None:
        found = dict(session.execute(select(Service.code, Service.id).where(Service.code.in_(service_codes))).all())
        unknown = [FieldError(f"services[{i}]", "invalid_value") for i, c in enumerate(service_codes)
                   if c not in found]
        if unknown:
            raise ValidationFailed(unknown)
        service_ids = sorted(set(found.values()))
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, contact=contact, prefix=raw[:10], key_hash=_hash(raw),
                 service_ids=service_ids, created_by=admin.id)
    session.add(key)
    session.flush()
    session.refresh(key)
    key.user_id = _key_account(session, key).id
    audit(session, admin, "api_key.create", "api_key", key.id, None, name=name, services=service_codes)
    return {**key_row(session, key), "key": raw}


def revoke_api_key(session: Session, admin: User, key_id: int) -> None:
    """Idempotent: a revoked key stays revoked (and listed)."""
    policy.require(session, admin, "admin.manage")
    key = session.get(ApiKey, key_id, with_for_update={"of": ApiKey})
    if key is None:
        raise NotFound("not_found")
    if key.revoked_at is None:
        key.revoked_at = _now()
        account = session.get(User, key.user_id) if key.user_id else None
        if account is not None:
            account.is_active = False
        session.flush()
        audit(session, admin, "api_key.revoke", "api_key", key.id, None, name=key.name)


def _key_account(session: Session, key: ApiKey) -> User:
    """The account a key acts through: named after the application, agent on the key's
    services, no password, an address under `.invalid` (RFC 2606: never delivered)."""
    account = User(email=f"api-key-{key.id}@keys.cartagora.invalid", display_name=key.name,
                   password_hash=None, roles=["resident", "agent"], email_verified_at=_now())
    session.add(account)
    session.flush()
    for service_id in key.service_ids if key.service_ids is not None else [None]:
        session.add(AgentScope(user_id=account.id, service_id=service_id, arrondissement_id=None))
    session.flush()
    return account


def authenticate_api_key(session: Session, raw: str | None) -> ApiKey | None:
    """The live key `raw` names, or None; notes when it was last used (once a minute)."""
    if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(raw), ApiKey.revoked_at.is_(None)))
    if key is not None:
        session.execute(update(ApiKey).where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < func.now() - text("interval '1 minute'")),
        ).values(last_used_at=func.now()))
    return key


def key_allows(key: ApiKey, service_id: int | None) -> bool:
    """Whether a key acts for reports of this service."""
    return key.service_ids is None or service_id in key.service_ids

