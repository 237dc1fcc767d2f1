"""The shipped reference geography of Paris (Ville de Paris open data, ODbL)."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import shapely
from shapely.geometry import shape

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ARRONDISSEMENTS_FILE = DATA_DIR / "arrondissements.geojson"
QUARTIERS_FILE = DATA_DIR / "quartier_paris.geojson"


def read_features(path: Path) -> list[dict]:
    """The features of a GeoJSON FeatureCollection file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)["features"]


@lru_cache(maxsize=4)
def paris_boundary(path: Path = ARRONDISSEMENTS_FILE):
    """The union of the arrondissements, prepared for fast repeated containment tests."""
    union = shapely.union_all([shape(f["geometry"]) for f in read_features(path)])
    shapely.prepare(union)
    return union


def paris_bbox(path: Path = ARRONDISSEMENTS_FILE) -> tuple[float, float, float, float]:
    """The city's bounding box (west, south, east, north), rounded outwards to 1e-4 degree."""
    w, s, e, n = paris_boundary(path).bounds
    return (math.floor(w * 1e4) / 1e4, math.floor(s * 1e4) / 1e4,
            math.ceil(e * 1e4) / 1e4, math.ceil(n * 1e4) / 1e4)


def near_paris(lon: float, lat: float, margin_deg: float) -> bool:
    """True within `margin_deg` degrees of the city's bounding box."""
    w, s, e, n = paris_bbox()
    return w - margin_deg <= lon <= e + margin_deg and s - margin_deg <= lat <= n + margin_deg
