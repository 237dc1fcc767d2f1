"""Reference data's declared queries and answers."""

from typing import Literal

from pydantic import Field

from app.api.contract import ApiQuery, Model
from app.api.types import Latitude, Longitude, Text
from app.areas.services import RANKING_MIN
from app.contributions.models import KINDS

AREA_LEVELS = ("arrondissement", "quartier")
GEOCODE_MAX_Q, GEOCODE_LIMIT = 200, (1, 50, 10)  # lowest, highest, default


class AreasQuery(ApiQuery):
    level: Literal[AREA_LEVELS] = Field("arrondissement", description="Which polygons.")


class CategoriesQuery(ApiQuery):
    kind: Literal[KINDS] = Field("report", description="Which tree.")


class GeocodeQuery(ApiQuery):
    q: Text(GEOCODE_MAX_Q, min_length=1) = Field(
        description="Free text: accents, case and small typos do not matter.",
        examples=["12 rue de rivoli"])
    limit: int = Field(GEOCODE_LIMIT[2], ge=GEOCODE_LIMIT[0], le=GEOCODE_LIMIT[1],
                       description="At most this many addresses.")


class ReverseQuery(ApiQuery):
    lon: Longitude = Field(description="Longitude, WGS84 degrees.")
    lat: Latitude = Field(description="Latitude, WGS84 degrees.")


class LocalizedText(Model):
    fr: str
    en: str


class Service(Model):
    """The team that handles a category."""

    code: str
    name: LocalizedText


class Category(Model):
    code: str
    label: LocalizedText = Field(description="The full label, as DansMaRue's.")
    short_label: LocalizedText = Field(description="For a list: without the agent-only mark nor "
                                                   "the group before a colon (\"Marche dangereuse\").")
    description: LocalizedText = Field(description="The label without its agent-only mark.")
    service: Service | None
    agent_only: bool = Field(description="Only agents, supervisors and admins file reports in "
                                         "it; residents are refused (`category_agent_only`).")
    sensitive: bool = Field(description="Its contributions are public at the centre of their "
                                        "100 m cell (Lambert-93), without address; staff see "
                                        "the exact place.")
    active: bool = Field(description="False: disabled by an admin; no new contribution "
                                     "(`category_disabled`), existing ones keep it.")
    recent_count: int = Field(ge=0, description="Contributions filed in it (a top category: "
                                                "with its sub-categories) in the last 12 months, "
                                                "or over all time when the year holds fewer than "
                                                f"{RANKING_MIN:,} of its kind: the form offers the "
                                                "most used first.")
    children: list["Category"] = Field(description="Sub-categories (one level).")


class CategoryTree(Model):
    kind: Literal[KINDS]
    categories: list[Category]


class AreaProperties(Model):
    level: Literal[AREA_LEVELS]
    code: int
    insee_code: int
    name: str
    area_km2: float
    arrondissement: int | None = Field(None, description="Only for quartiers: their arrondissement.")


class MultiPolygon(Model):
    type: Literal["MultiPolygon", "Polygon"]
    coordinates: list


class Area(Model):
    type: Literal["Feature"]
    id: int
    geometry: MultiPolygon
    properties: AreaProperties


class AreaCollection(Model):
    type: Literal["FeatureCollection"]
    features: list[Area]


class Point(Model):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2)


GEOCODE_TYPES = ("street", "address")


class AddressProperties(Model):
    type: Literal[GEOCODE_TYPES] = Field(
        description="`street`: a street or square (in one postcode), at a point on it; "
                    "`address`: a house number.")
    label: str = Field(examples=["12 Rue de Rivoli 75004 Paris", "Place de la République 75003 Paris"])
    housenumber: str | None = Field(description="As on the door (\"1 bis\"); null for a street.")
    street: str
    postcode: str = Field(pattern="^[0-9]{5}$")
    distance_m: float | None = Field(None, description="Only from `/reverse`.")


class Address(Model):
    """A Base Adresse Nationale address point, or a street (one BAN street name in one
    postcode)."""

    type: Literal["Feature"]
    id: str = Field(description="The BAN address id; for a street, its BAN key and postcode.")
    bbox: list[float] | None = Field(None, min_length=4, max_length=4,
                                     description="Only for a street: the extent of its numbers "
                                                 "(west, south, east, north).")
    geometry: Point
    properties: AddressProperties


class AddressCollection(Model):
    type: Literal["FeatureCollection"]
    query: str | None = Field(None, description="Only from `/geocode`: the query as searched.")
    features: list[Address] = Field(description="From `/geocode`: streets first unless the "
                                                "query starts with a house number.")
