"""The vector tiles' declared query (app/tiles/views.py) and its filters as one clause per kind.

As on the map (app/map/schemas.py), a category code or a status word applies to the kind it
belongs to, and a kind that such a filter leaves out entirely drops out of the tile. Unknown
parameters are refused (400), as everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from app.api.contract import ApiQuery
from app.api.types import AnyCategoryCode, Choice, CommaList
from app.areas.services import category_index
from app.contributions.models import KINDS, STATUS_GROUPS, STATUSES

MAX_ZOOM = 22
# every status word of either kind, the groups (`open`, `closed`) included
STATUS_WORDS = tuple(dict.fromkeys(
    [s for kind in KINDS for s in (*STATUSES[kind], *STATUS_GROUPS[kind])]))


class TileQuery(ApiQuery):
    kind: CommaList(Choice(KINDS)) | None = Field(
        None, description="The kinds shown (both by default).")
    category: CommaList(AnyCategoryCode) | None = Field(
        None, description="Category codes of either kind (with their sub-categories); a kind "
                          "none of them belongs to drops out.")
    status: CommaList(Choice(STATUS_WORDS, code="invalid_status")) | None = Field(
        None, description="Statuses of either kind, and `open`/`closed` for reports; a kind "
                          "none of them belongs to drops out.")


@dataclass(frozen=True)
class KindFilter:
    """One kind in play: its category ids (with sub-categories) and statuses, None for all."""

    kind: str
    category_ids: tuple[int, ...] | None
    statuses: tuple[str, ...] | None


def kind_filters(query: TileQuery) -> list[KindFilter]:
    """The kinds in play, each with the category codes and status words that are its own."""
    index = category_index()
    codes, words = query.category or [], query.status or []
    out = []
    for kind in dict.fromkeys(query.kind or KINDS):
        ids = [i for c in codes if index.by_code[c].kind == kind for i in index.subtree_ids(c, kind)]
        statuses = [s for w in words for s in
                    ((w,) if w in STATUSES[kind] else STATUS_GROUPS[kind].get(w, ()))]
        if (codes and not ids) or (words and not statuses):
            continue  # the filters name only the other kind
        out.append(KindFilter(kind, tuple(sorted(set(ids))) if codes else None,
                              tuple(sorted(set(statuses))) if words else None))
    return out
