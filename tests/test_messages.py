"""One catalogue: API problems, field errors and geometry failures in French and English,
from gettext (translations/fr), chosen by one resolver."""

from __future__ import annotations

import pytest

from app.messages import GEOMETRY_MESSAGES, MESSAGES, message
from geo.errors import CODES


@pytest.fixture(scope="module")
def ctx(app):
    with app.test_request_context("/api/v1/reports"):
        yield


def test_geometry_messages_in_both_languages(ctx):
    params = {"kind": "report", "allowed": ("Point",), "type": "LineString"}
    assert message("geometry_type_not_allowed", params, "fr") == \
        "Un signalement peut être un point, pas une ligne."
    assert message("geometry_type_not_allowed", params, "en") == "A report can be a point, not a line."
    proposal = {"kind": "proposal", "allowed": ("Point", "LineString", "Polygon"), "type": "Circle"}
    assert message("geometry_type_not_allowed", proposal, "fr") == \
        "Une proposition peut être un point ou une ligne ou un polygone, pas Circle."


def test_every_code_is_translated(ctx):
    assert set(GEOMETRY_MESSAGES) == set(CODES)
    for code in [*MESSAGES, *GEOMETRY_MESSAGES]:
        params = {"min": 3, "max": 9, "reason": "r", "from": "new", "to": "resolved", "days": 30,
                  "count": 6000, "kind": "report", "allowed": ("Point",), "type": "Point"}
        fr, en = message(code, params, "fr"), message(code, params, "en")
        assert fr and en and fr != en, code


@pytest.mark.parametrize("url, headers, lang", [
    ("/api/v1/reports", {}, "fr"),
    ("/api/v1/reports", {"Accept-Language": "en-GB,en;q=0.8"}, "en"),
    ("/api/v1/reports?lang=fr", {"Accept-Language": "en"}, "fr"),
    ("/", {"Accept-Language": "en"}, "fr"),  # pages: French unless chosen
    ("/?lang=en", {}, "en"),
])
def test_one_resolver(app, url, headers, lang):
    from app.messages import current_language

    with app.test_request_context(url, headers=headers):
        assert current_language() == lang


def test_every_kind_of_geometry_has_its_name_in_messages():
    """A geometry error names its kind ("A report must be a point…"): every kind the
    validation knows has its words."""
    from app.messages import GEOMETRY_KINDS
    from geo.validation import ALLOWED_TYPES

    assert set(GEOMETRY_KINDS) == set(ALLOWED_TYPES)
