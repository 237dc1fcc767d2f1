"""Geometry validation errors, each with a stable code and a message residents can act on."""

from __future__ import annotations

from dataclasses import dataclass, field

# code -> (French, English). Placeholders are filled from GeometryError.params.
MESSAGES: dict[str, tuple[str, str]] = {
    "geometry_missing": (
        "Indiquez un emplacement sur la carte.",
        "Place the contribution on the map.",
    ),
    "geometry_malformed": (
        "L'emplacement n'est pas une géométrie GeoJSON valide : {reason}.",
        "The location is not a valid GeoJSON geometry: {reason}.",
    ),
    "geometry_type_not_allowed": (
        "{kind} peut être {allowed}, pas {type}.",
        "{kind} can be a {allowed}, not a {type}.",
    ),
    "coordinates_not_finite": (
        "Les coordonnées doivent être des nombres finis (longitude, latitude).",
        "Coordinates must be finite numbers (longitude, latitude).",
    ),
    "coordinates_out_of_range": (
        "Les coordonnées doivent être en degrés WGS84 : longitude entre -180 et 180, "
        "latitude entre -90 et 90.",
        "Coordinates must be WGS84 degrees: longitude between -180 and 180, "
        "latitude between -90 and 90.",
    ),
    "coordinates_swapped": (
        "Les coordonnées semblent inversées : donnez la longitude avant la latitude "
        "(par exemple [2.35, 48.85]).",
        "The coordinates look swapped: give longitude before latitude (e.g. [2.35, 48.85]).",
    ),
    "geometry_too_complex": (
        "Le tracé a {count} sommets ; {max} au plus sont acceptés. Simplifiez-le.",
        "The shape has {count} vertices; at most {max} are accepted. Simplify it.",
    ),
    "geometry_invalid": (
        "Le tracé se recoupe ou est mal formé ({reason}). Redessinez-le sans croisement.",
        "The shape crosses itself or is malformed ({reason}). Redraw it without crossings.",
    ),
    "outside_paris": (
        "Cet emplacement est hors de Paris. Cartagora ne couvre que les 20 arrondissements.",
        "This location is outside Paris. Cartagora only covers the 20 arrondissements.",
    ),
}

KIND_NAMES = {"report": ("Un signalement", "A report"), "proposal": ("Une proposition", "A proposal")}
TYPE_NAMES = {
    "Point": ("un point", "point"),
    "LineString": ("une ligne", "line"),
    "Polygon": ("un polygone", "polygon"),
}


@dataclass
class GeometryError(Exception):
    """A geometry that cannot be accepted; `code` is stable, `message(lang)` is for people."""

    code: str
    params: dict = field(default_factory=dict)

    def message(self, lang: str = "fr") -> str:
        fr, en = MESSAGES[self.code]
        i = 1 if lang == "en" else 0
        params = dict(self.params)
        if "kind" in params:  # localise the domain words carried as raw values
            params["kind"] = KIND_NAMES[params["kind"]][i]
            params["allowed"] = (" or " if i else " ou ").join(
                TYPE_NAMES[t][i] for t in params["allowed"]
            )
            params["type"] = TYPE_NAMES.get(params["type"], (params["type"],) * 2)[i]
        return (en if i else fr).format(**params)

    def __str__(self) -> str:
        return f"{self.code}: {self.message('en')}"
