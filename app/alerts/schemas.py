"""The area alerts API's declared body and answers."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from app.alerts.models import AREAS, KINDS
from app.alerts.services import ALERTS_MAX, LABEL_MAX, MEMBERS, RADIUS_M, SHAPES
from app.api.contract import Body, Model
from app.api.types import Choice, Geometry, Text, Whole
from app.contributions.schemas import ARRONDISSEMENTS, QUARTIERS

PointGeometry = Geometry("mission")  # a point inside Paris


class AlertInput(Body):
    """One area: an arrondissement, a quartier, or a radius around a point (an address the
    geocoder found: its `label` is shown in the alert and its e-mails). The chosen area's
    members are required (`required`), the other areas' refused (`not_allowed`)."""

    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"properties": {"area": {"const": area}}, "required": ["area"]},
         "then": {"required": list(members[:1]), "properties": {
             members[0]: {"not": {"type": "null"}},
             **{other: {"type": "null"} for other in MEMBERS if other not in members}}}}
        for area, members in SHAPES.items()]})

    area: Choice(AREAS) = Field(description="What is followed: `arrondissement`, `quartier` or `radius`.")
    arrondissement: Whole(*ARRONDISSEMENTS) | None = Field(None, description="Its number (area `arrondissement`).")
    quartier: Whole(*QUARTIERS) | None = Field(
        None, description="The quartier administratif's number, 1 to 80 (area `quartier`).")
    point: PointGeometry | None = Field(None, description="The centre, a GeoJSON Point in Paris (area `radius`).")
    radius_m: Whole(RADIUS_M[0], RADIUS_M[1]) | None = Field(
        None, description=f"The radius in metres (area `radius`; {RADIUS_M[2]} when absent).")
    label: Text(LABEL_MAX) | None = Field(None, description="The address in words (area `radius`).")
    kinds: Choice(KINDS) = Field("both", description="What is told: new `reports`, `proposals` or `both`.")

    def values(self) -> dict:
        return {name: getattr(self, name) for name in type(self).model_fields}


class AlertOut(Model):
    id: int
    area: Literal["arrondissement", "quartier", "radius"]
    arrondissement: int | None
    quartier: int | None
    geometry: dict | None = Field(description="The centre of a radius alert.")
    radius_m: int | None
    label: str | None
    kinds: Literal["reports", "proposals", "both"]
    description: str = Field(description="The area in words, in the request's language.")
    list_url: str = Field(description="The map's list on this area (a path).")
    created_at: str
    last_sent_at: str | None = Field(description="When its last e-mail was queued.")


class AlertsOut(Model):
    max: int = Field(ALERTS_MAX, description="How many alerts an account may have.")
    alerts: list[AlertOut]
