"""The administration API's declared bodies, queries and answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, StrictBool

from app.accounts.models import ROLES
from app.accounts.schemas import DISPLAY_NAME_MAX
from app.api.contract import ApiQuery, Body, Model
from app.api.types import Choice, ServiceCode, Text, fail
from app.areas.schemas import LocalizedText
from app.contributions.models import KINDS

LABEL_MAX, NAME_MAX, CONTACT_MAX = 200, 100, 200
CODE_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,79}$"
Code = Annotated[str, Field(pattern=CODE_PATTERN, description="Lower-case letters, digits, `.`, `_` "
                                                              "and `-`; 2 to 80 characters.")]
Label = Text(LABEL_MAX, min_length=1)


def _not_a_boolean(value):
    if isinstance(value, bool):  # JSON true is no position (pydantic would read it as 1)
        fail("not_a_number")
    return value


Position = Annotated[int, Field(ge=0, le=10_000, description="Order among its siblings."),
                     BeforeValidator(_not_a_boolean)]


class CategoryInput(Body):
    kind: Choice(KINDS)
    code: Code
    parent: str | None = Field(None, description="A top-level category of the same kind (the tree "
                                                 "has two levels); none: a top-level category.")
    label_fr: Label
    label_en: Label
    service: ServiceCode | None = Field(None, description="Reports only; by default the parent's.")
    agent_only: StrictBool = False
    sensitive: StrictBool = False
    position: Position = 0

    def values(self) -> dict:
        return self.model_dump()


class CategoryPatch(Body):
    """Only the members sent change. `parent: null` makes it top-level; `service: null` leaves
    its reports without a team. A new service re-routes the category's open reports."""

    label_fr: Label | None = None
    label_en: Label | None = None
    parent: str | None = None
    service: ServiceCode | None = None
    agent_only: StrictBool | None = None
    sensitive: StrictBool | None = None
    active: StrictBool | None = Field(None, description="False: no new contribution in it; existing "
                                                  "ones keep it.")
    position: Position | None = None

    def changes(self) -> dict:
        """The members sent; only `parent` and `service` may be null."""
        return {k: getattr(self, k) for k in self.model_fields_set
                if getattr(self, k) is not None or k in ("parent", "service")}


class AdminCategory(Model):
    code: str
    kind: str
    parent: str | None
    label: LocalizedText
    service: str | None
    agent_only: bool
    sensitive: bool
    active: bool
    position: int
    contributions: int | None = Field(None, description="How many public contributions it holds "
                                                             "(lists).")
    rerouted: int | None = Field(None, description="Open reports moved to the new service (edits).")


class CategoriesQuery(ApiQuery):
    kind: Choice(KINDS) | None = None


class AdminCategories(Model):
    categories: list[AdminCategory]


class ServiceInput(Body):
    code: Code
    name_fr: Text(NAME_MAX, min_length=1)
    name_en: Text(NAME_MAX, min_length=1)


class ServicePatch(Body):
    name_fr: Text(NAME_MAX, min_length=1) | None = None
    name_en: Text(NAME_MAX, min_length=1) | None = None

    def changes(self) -> dict:
        return self.model_dump(exclude_none=True)


class AdminService(Model):
    code: str
    name: LocalizedText
    categories: int = Field(description="Categories routed to it.")


class AdminServices(Model):
    services: list[AdminService]


class UsersQuery(ApiQuery):
    q: Text(100) | None = Field(None, description="Part of the e-mail or of the public name.")
    role: Choice(ROLES) | None = None
    limit: int = Field(50, ge=1, le=200)


class Scope(Model):
    service: str | None
    arrondissement: int | None


class AdminUser(Model):
    id: int
    email: str
    display_name: str
    roles: list[str]
    two_factor: bool
    email_verified: bool
    banned: bool
    created_at: str
    scopes: list[Scope] = Field(description="An agent's services and arrondissements (null: all).")


class AdminUsers(Model):
    users: list[AdminUser]


class RolesInput(Body):
    roles: list[Choice(ROLES)] = Field(max_length=len(ROLES), description=(
        "The account's roles; `resident` is always kept. Moderators and admins use theirs only "
        "with two-factor sign-in on. An admin cannot remove their own `admin` (409 "
        "`cannot_demote_self`)."))


class ApiKeyInput(Body):
    # its account's public name (app.open311): a display name's limit
    name: Text(DISPLAY_NAME_MAX, min_length=1) = Field(description="The application, e.g. "
                                                                   "“FixMyStreet Paris”.")
    contact: Text(CONTACT_MAX) | None = Field(None, description="Who to call about it.")
    services: list[ServiceCode] | None = Field(None, max_length=100, description=(
        "The services whose reports it may update (Open311 service request updates); none: "
        "every service."))


class AdminApiKey(Model):
    id: int
    name: str
    prefix: str = Field(description="Its first characters, to recognise it.")
    services: list[str] | None
    contact: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class NewApiKey(AdminApiKey):
    key: str = Field(description="The key itself: shown this once, stored only as its SHA-256.")


class AdminApiKeys(Model):
    keys: list[AdminApiKey]
