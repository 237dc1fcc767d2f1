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


TOTP_CODE = Field(description="The 6-digit code of the authenticator app.",
                  examples=["123456"])
RECOVERY_CODE = Field(description="A single-use recovery code, instead of `totp_code`.",
                      examples=["a1b2c-3d4e5"])


class Credentials(Body):
    email: Text(EMAIL_MAX, min_length=1)
    password: Text(MAX_PASSWORD, min_length=1, strip=False)
    totp_code: Annotated[Text(7) | None, TOTP_CODE] = None
    recovery_code: Annotated[Text(20) | None, RECOVERY_CODE] = None


LinkToken = Annotated[Text(100, min_length=1), Field(description="The token of the e-mailed link.")]


class EmailOnly(Body):
    email: Email


class VerifyEmailInput(Body):
    token: LinkToken


class PasswordResetInput(Body):
    token: LinkToken
    new_password: NewPassword


class TotpCode(Body):
    code: Annotated[Text(7) | None, TOTP_CODE] = None
    recovery_code: Annotated[Text(20) | None, RECOVERY_CODE] = None


class TotpConfirm(Body):
    code: Annotated[Text(7, min_length=6), TOTP_CODE]


class DeleteAccountInput(Body):
    password: Annotated[Text(MAX_PASSWORD, min_length=1, strip=False), Field(
        description="The account's password; an account made through OIDC, without one, types "
                    "its e-mail address instead.")]


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
    active_roles: list[Literal[ROLES]] = Field(  # type: ignore[valid-type]
        description="The roles usable now: a moderator's or an admin's wait for two-factor sign-in.")
    email_verified: bool
    two_factor: bool = Field(description="Two-factor sign-in (TOTP) is on.")
    has_password: bool = Field(description="False for an account made through OIDC that never set one.")


class TotpSetupOut(Model):
    secret: str = Field(description="Base32, for apps that cannot scan the QR code.")
    otpauth_uri: str = Field(description="The `otpauth://totp/…` URI the QR code holds.")


class RecoveryCodesOut(Model):
    recovery_codes: list[str] = Field(description="Single-use codes, shown only this once.")


class MyDataOut(Model):
    format: Literal["cartagora-my-data/1"]
    exported_at: str
    account: dict
    identities: list[dict]
    sessions: list[dict]
    contributions: list[dict]
    comments: list[dict]
    votes: list[dict]
    follows: list[dict]
    feedback: list[dict]
    petitions: list[dict] = Field(description="The petitions I started (drafts included).")
    signatures: list[dict] = Field(description="My signatures: the petition, whether my name "
                                               "is shown, the arrondissement I declared.")
    budget_projects: list[dict] = Field(description="The participatory budget's projects I wrote "
                                                    "(`author`) or support (`supporter`).")
    budget_votes: list[dict] = Field(description="The participatory budgets I voted in: Paris-wide, "
                                                 "and the arrondissement. My ballots themselves are "
                                                 "only shown to my own session (`GET /api/v1/budgets/{id}/ballot`).")
    organisations: list[dict] = Field(description="The organisations I manage, and my role.")
    mission_signups: list[dict] = Field(description="My volunteer sign-ups: the mission, the slot, "
                                                    "their status, my message.")
    area_alerts: list[dict] = Field(description="The areas I follow (app.alerts).")
    emails: list[dict]


class TokenOut(Model):
    access_token: str
    token_type: Literal["Bearer"]
    expires_at: str = Field(description="ISO 8601 date-time.")
    user: UserOut
