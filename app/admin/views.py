"""Administration API (admins, with two-factor sign-in on): categories, services and routing,
users and roles, API keys. Agents' scopes: PUT /api/v1/agents/{id}/scopes (app.field)."""

from flask import Blueprint

from app import policy
from app.accounts.auth import current_user
from app.admin import services
from app.admin.schemas import (
    AdminApiKeys,
    AdminCategories,
    AdminCategory,
    AdminService,
    AdminServices,
    AdminUser,
    AdminUsers,
    ApiKeyInput,
    CategoriesQuery,
    CategoryInput,
    CategoryPatch,
    NewApiKey,
    RolesInput,
    ServiceInput,
    ServicePatch,
    UsersQuery,
)
from app.api.contract import Reply, operation
from app.db import db

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
TAGS = ("Administration",)
AUTH = policy.roles("admin.manage")
CATEGORY = {"code": "A category's code."}
SERVICE = {"code": "A service's code."}
NO_CATEGORY = {404: "No such category (`not_found`)."}
TREE_PROBLEMS = {422: "Invalid input; also `invalid_parent` (not a top-level category of the same "
                      "kind), `has_children` (a category with sub-categories cannot move under "
                      "another), `already_exists` on `code`."}


@operation(bp, "GET", "/categories", query=CategoriesQuery, tags=TAGS, auth=AUTH,
           replies={200: Reply("Every category, top-level ones each followed by their children.",
                               AdminCategories)})
def categories(query: CategoriesQuery):
    """The category tree, with its flags and counts."""
    return {"categories": services.categories(db.session, current_user(), query.kind)}


@operation(bp, "POST", "/categories", body=CategoryInput, tags=TAGS, auth=AUTH, problems=TREE_PROBLEMS,
           replies={201: Reply("Created.", AdminCategory)})
def create_category(body: CategoryInput):
    """Add a category."""
    return services.create_category(db.session, current_user(), body.values()), 201


@operation(bp, "PATCH", "/categories/<code>", body=CategoryPatch, tags=TAGS, auth=AUTH, path_doc=CATEGORY,
           problems={**NO_CATEGORY, **TREE_PROBLEMS}, replies={200: Reply("Changed.", AdminCategory)})
def update_category(code: str, body: CategoryPatch):
    """Rename, move, re-route, flag or disable a category

    A new French label shows on the map at once; a category becoming sensitive moves its
    contributions' public points to the centre of their 100 m cell; a new service takes the
    category's open reports."""
    return services.update_category(db.session, current_user(), code, body.changes())


@operation(bp, "GET", "/services", tags=TAGS, auth=AUTH,
           replies={200: Reply("The services (teams) reports are routed to.", AdminServices)})
def list_services():
    """The services."""
    return {"services": services.services(db.session, current_user())}


@operation(bp, "POST", "/services", body=ServiceInput, tags=TAGS, auth=AUTH,
           problems={422: "Invalid input; `already_exists` on `code`."},
           replies={201: Reply("Created.", AdminService)})
def create_service(body: ServiceInput):
    """Add a service."""
    return services.create_service(db.session, current_user(), body.code, body.name_fr, body.name_en), 201


@operation(bp, "PATCH", "/services/<code>", body=ServicePatch, tags=TAGS, auth=AUTH, path_doc=SERVICE,
           problems={404: "No such service (`not_found`)."}, replies={200: Reply("Renamed.", AdminService)})
def update_service(code: str, body: ServicePatch):
    """Rename a service."""
    return services.update_service(db.session, current_user(), code, body.changes())


@operation(bp, "GET", "/users", query=UsersQuery, tags=TAGS, auth=AUTH,
           replies={200: Reply("Accounts, newest first.", AdminUsers)})
def users(query: UsersQuery):
    """Find accounts."""
    return {"users": services.users(db.session, current_user(), query.q, query.role, query.limit)}


@operation(bp, "PUT", "/users/<id:user_id>/roles", body=RolesInput, tags=TAGS, auth=AUTH,
           problems={404: "No such account (`not_found`).",
                     409: "Your own admin role (`cannot_demote_self`)."},
           replies={200: Reply("The account.", AdminUser)})
def set_roles(user_id: int, body: RolesInput):
    """Set an account's roles."""
    return services.set_roles(db.session, current_user(), user_id, body.roles)


@operation(bp, "GET", "/api-keys", tags=TAGS, auth=AUTH,
           replies={200: Reply("Every key, revoked ones included; never the keys themselves.", AdminApiKeys)})
def api_keys():
    """Keys of other applications."""
    return {"keys": services.api_keys(db.session, current_user())}


@operation(bp, "POST", "/api-keys", body=ApiKeyInput, tags=TAGS, auth=AUTH,
           replies={201: Reply("Created; `key` is shown this once.", NewApiKey)})
def create_api_key(body: ApiKeyInput):
    """Issue a key to another application (an Open311 client)."""
    return services.create_api_key(db.session, current_user(), body.name, body.contact, body.services), 201


@operation(bp, "DELETE", "/api-keys/<id:key_id>", tags=TAGS, auth=AUTH,
           problems={404: "No such key (`not_found`)."}, replies={204: Reply("Revoked (or already).")})
def revoke_api_key(key_id: int):
    """Revoke a key."""
    services.revoke_api_key(db.session, current_user(), key_id)
    return "", 204
