"""The accounts API's declared bodies and answers."""

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from app.accounts.models import ROLES
from app.accounts.services import MIN_PASSWORD
from app.api.contract import Body, Model
from app.api.types import Text, fail

MAX_PASSWORD = 256
EMAIL_MAX, DISPLAY_NAME_MAX = 254, 60


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain.strip(".") or any(c.isspace() for c in value):
        fail("invalid_email")
    return value.lower()


Email = Annotated[Text(EMAIL_MAX, min_length=1), AfterValidator(_email),
                  Field(json_schema_extra={"format": "email"}, examples=["alice@example.org"])]


def _strong(value: str) -> str:
    if len(value) < MIN_PASSWORD:
        fail("weak_password", min=MIN_PASSWORD)
    return value


NewPassword = Annotated[Text(MAX_PASSWORD, strip=False), AfterValidator(_strong),
                        Field(description=f"At least {MIN_PASSWORD} characters.",
                              json_schema_extra={"minLength": MIN_PASSWORD})]


class RegisterInput(Body):
    email: Email
    password: NewPassword
    display_name: Text(DISPLAY_NAME_MAX, min_length=1)


class Credentials(Body):
    email: Text(EMAIL_MAX, min_length=1)
    password: Text(MAX_PASSWORD, min_length=1, strip=False)


class PasswordChange(Body):
    current_password: Text(MAX_PASSWORD, min_length=1, strip=False)
    new_password: NewPassword


class RegisteredOut(Model):
    detail: str = Field(description="What happens next, in the request's language.")


class RevokedOut(Model):
    revoked: int = Field(description="How many sessions and tokens were ended.")


class UserOut(Model):
    id: int
    email: str
    display_name: str
    roles: list[Literal[ROLES]]  # type: ignore[valid-type]


class TokenOut(Model):
    access_token: str
    token_type: Literal["Bearer"]
    expires_at: str = Field(description="ISO 8601 date-time.")
    user: UserOut
