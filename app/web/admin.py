"""Pages of administration (/admin, admins): categories, services, users with their roles
and scopes, API keys. The same services as the API (app.admin.services), every change
audited."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.accounts.models import ROLES, User
from app.admin import services
from app.admin.schemas import (
    ApiKeyInput,
    CategoryInput,
    CategoryPatch,
    RolesInput,
    ServiceInput,
    ServicePatch,
)
from app.db import db
from app.errors import AppError, NotFound
from app.field import services as field_services
from app.messages import message
from app.web.forms import page_form, refusal_errors, signed_in_or_login
from app.web.i18n import current_lang
from app.web.security import protect_forms
from app.web.services import arrondissements

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")
protect_forms(bp)


def _admin() -> User:
    user = signed_in_or_login()
    if "admin" not in user.active_roles:
        abort(make_response(render_template("agent/forbidden.html"), 403))
    return user


def _done(code: str, endpoint: str, **args):
    session["flash"] = message(code, None, current_lang())
    return redirect(url_for(endpoint, **args))


def _checkbox(name: str) -> bool:
    return request.form.get(name) == "on"


def _or_none(name: str) -> str | None:
    return request.form.get(name) or None


@bp.get("")
def index():
    _admin()
    return redirect(url_for("admin_pages.categories"))


# ---- categories ---------------------------------------------------------------------------

@bp.route("/categories", methods=["GET", "POST"])
def categories():
    user = _admin()
    kind = request.args.get("kind") if request.args.get("kind") in ("report", "proposal") else "report"
    values, errors = {"kind": kind}, {}
    if request.method == "POST":
        values = {"kind": kind, "code": request.form.get("code", ""), "parent": _or_none("parent"),
                  "label_fr": request.form.get("label_fr", ""), "label_en": request.form.get("label_en", ""),
                  "service": _or_none("service"), "agent_only": _checkbox("agent_only"),
                  "sensitive": _checkbox("sensitive")}
        form, errors = page_form(CategoryInput, values)
        if form is not None:
            try:
                services.create_category(db.session, user, form.values())
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                return _done("category_created", "admin_pages.categories", kind=kind)
    rows = services.categories(db.session, user, kind)
    return render_template("admin/categories.html", rows=rows, kind=kind, values=values, errors=errors,
                           parent_options=_labels(r for r in rows if r["parent"] is None),
                           service_options=_service_options(), notice=session.pop("flash", None))


@bp.route("/categories/<code>", methods=["GET", "POST"])
def category(code: str):
    user = _admin()
    rows = services.categories(db.session, user)
    row = next((r for r in rows if r["code"] == code), None)
    if row is None:
        abort(404)
    errors = {}
    if request.method == "POST":
        data = {"label_fr": request.form.get("label_fr", ""), "label_en": request.form.get("label_en", ""),
                "parent": _or_none("parent"), "agent_only": _checkbox("agent_only"),
                "sensitive": _checkbox("sensitive"), "active": _checkbox("active"),
                "position": request.form.get("position") or "0"}
        if row["kind"] == "report":
            data["service"] = _or_none("service")
        form, errors = page_form(CategoryPatch, data)
        if form is not None:
            try:
                services.update_category(db.session, user, code, form.changes())
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                return _done("category_saved", "admin_pages.categories", kind=row["kind"])
        row = {**row, **{k: v for k, v in data.items() if k not in ("label_fr", "label_en")},
               "label": {"fr": data["label_fr"], "en": data["label_en"]}}
    has_children = any(r["parent"] == code for r in rows)
    tops = (r for r in rows if r["parent"] is None and r["kind"] == row["kind"] and r["code"] != code)
    return render_template("admin/category.html", row=row, errors=errors, parent_options=_labels(tops),
                           has_children=has_children, service_options=_service_options())


def _labels(rows) -> list[tuple[str, str]]:
    lang = current_lang()
    return [(r["code"], r["label"][lang]) for r in rows]


def _service_options() -> list[tuple[str, str]]:
    """(code, name) of every service, in the page's language."""
    lang = current_lang()
    return [(s["code"], s["name"][lang]) for s in services.services(db.session, signed_in_or_login())]


# ---- services -----------------------------------------------------------------------------

@bp.route("/services", methods=["GET", "POST"])
def services_page():
    user = _admin()
    values, errors = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        values.pop("csrf_token", None)
        form, errors = page_form(ServiceInput, values)
        if form is not None:
            try:
                services.create_service(db.session, user, form.code, form.name_fr, form.name_en)
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                return _done("service_created", "admin_pages.services_page")
    return render_template("admin/services.html", rows=services.services(db.session, user),
                           values=values, errors=errors, notice=session.pop("flash", None))


@bp.post("/services/<code>")
def rename_service(code: str):
    user = _admin()
    form, errors = page_form(ServicePatch, {"name_fr": request.form.get("name_fr", ""),
                                            "name_en": request.form.get("name_en", "")})
    if form is not None:
        try:
            services.update_service(db.session, user, code, form.changes())
        except NotFound:
            abort(404)
        return _done("service_saved", "admin_pages.services_page")
    session["flash"] = " ".join(errors.values())
    return redirect(url_for("admin_pages.services_page"))


# ---- users --------------------------------------------------------------------------------

@bp.get("/users")
def users():
    user = _admin()
    q = (request.args.get("q") or "").strip()[:100] or None
    role = request.args.get("role") if request.args.get("role") in ROLES else None
    return render_template("admin/users.html", rows=services.users(db.session, user, q, role, 100),
                           q=q or "", role=role, roles=ROLES, service_options=_service_options(),
                           arrondissements=arrondissements(db.session),
                           notice=session.pop("flash", None), errors=session.pop("admin_errors", {}))


@bp.post("/users/<int:user_id>/roles")
def user_roles(user_id: int):
    user = _admin()
    form, errors = page_form(RolesInput, {"roles": request.form.getlist("roles")})
    if form is not None:
        try:
            services.set_roles(db.session, user, user_id, form.roles)
        except NotFound:
            abort(404)
        except AppError as exc:
            errors = refusal_errors(exc)
    return _back_to_users(user_id, errors, "roles_saved")


@bp.post("/users/<int:user_id>/scopes")
def user_scopes(user_id: int):
    user = _admin()
    chosen_services = request.form.getlist("services") or [None]
    chosen_arrs = [int(a) for a in request.form.getlist("arrondissements") if a.isdigit() and 1 <= int(a) <= 20] \
        or [None]
    try:
        field_services.set_scopes_by_code(db.session, user, user_id,
                                          [(s, a) for s in chosen_services for a in chosen_arrs])
    except NotFound:
        abort(404)
    except AppError as exc:
        return _back_to_users(user_id, refusal_errors(exc), "scopes_saved")
    return _back_to_users(user_id, {}, "scopes_saved")


def _back_to_users(user_id: int, errors: dict, done: str):
    if errors:
        session["admin_errors"] = {str(user_id): errors}
    else:
        session["flash"] = message(done, None, current_lang())
    args = {k: v for k, v in request.args.items() if k in ("q", "role") and v}
    return redirect(url_for("admin_pages.users", **args) + f"#user-{user_id}")


# ---- API keys -----------------------------------------------------------------------------

@bp.route("/api-keys", methods=["GET", "POST"])
def api_keys():
    user = _admin()
    values, errors, created = {}, {}, None
    if request.method == "POST":
        values = {"name": request.form.get("name", ""), "contact": _or_none("contact"),
                  "services": request.form.getlist("services") or None}
        form, errors = page_form(ApiKeyInput, values)
        if form is not None:
            try:
                # the key is shown in this answer only: never in a redirect or the session
                created = services.create_api_key(db.session, user, form.name, form.contact, form.services)
            except AppError as exc:
                errors = refusal_errors(exc)
            else:
                values = {}
    response = make_response(render_template(
        "admin/api_keys.html", rows=services.api_keys(db.session, user), values=values, errors=errors,
        created=created, service_options=_service_options(), notice=session.pop("flash", None)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke_api_key(key_id: int):
    user = _admin()
    try:
        services.revoke_api_key(db.session, user, key_id)
    except NotFound:
        abort(404)
    return _done("api_key_revoked", "admin_pages.api_keys")
