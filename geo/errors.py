"""Geometry validation errors: a stable code and the parameters of its message. The messages
themselves, in French and English, are the app's (app/messages.py, a gettext catalogue):
geo/ knows no language."""

from __future__ import annotations

from dataclasses import dataclass, field

# every code geo.validation raises (documented in the API's problem codes)
CODES = (
    "geometry_missing",
    "geometry_malformed",
    "geometry_type_not_allowed",
    "coordinates_not_finite",
    "coordinates_out_of_range",
    "coordinates_swapped",
    "geometry_too_complex",
    "geometry_invalid",
    "outside_paris",
)


@dataclass
class GeometryError(Exception):
    """A geometry that cannot be accepted; `code` is stable, `params` fill its message."""

    code: str
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.code in CODES, self.code

    def __str__(self) -> str:
        return f"{self.code}: {self.params}"
