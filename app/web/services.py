"""Reads behind the pages: a contribution with its photos, votes and comments; my contributions;
the reference lists the map's filters offer. No writes here: the pages write through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app, url_for
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.areas.services import category_index
from app.contributions.models import Contribution
from app.engagement import services as engagement
from app.engagement.models import Comment, Vote
from app.field import services as field
from app.field.models import Follow
from app.field.workflow import REASON_LABELS, RESOLUTION_LABELS, label


@dataclass
class CategoryLabel:
    code: str
    label: str
    top_code: str
    top_label: str
    top_index: int  # position among its kind's top-level categories: picks the colour


def basemap() -> dict:
    """The tile layer every page's Leaflet map starts from (its scripts read these keys)."""
    cfg = current_app.config
    return {"tileUrl": cfg["TILE_URL"], "tileAttribution": cfg["TILE_ATTRIBUTION"],
            "tileMaxZoom": cfg["TILE_MAX_ZOOM"]}


def category_label(session: Session, category_id: int, lang: str) -> CategoryLabel:
    index = category_index(session)
    cat = index.by_id[category_id]
    top = index.by_id[cat.parent_id] if cat.parent_id else cat
    position = _top_positions(session, cat.kind, lang).get(top.code, 0)

    def label(c):
        return c.label_en if lang == "en" else c.label_fr

    return CategoryLabel(cat.code, label(cat), top.code, label(top), position)


# (kind, lang) -> (the CategoryIndex it was computed from, {top-level code: display position}).
# Building the tree costs ~7 ms; "my contributions" labels 500 items a page (3.9 s at 5M for a
# heavy user, bench/results/reads.json). category_index returns a new object when an admin
# changes the catalogue, so an entry computed from another index is stale.
_TOP_POSITIONS: dict[tuple[str, str], tuple[object, dict[str, int]]] = {}


def _top_positions(session: Session, kind: str, lang: str) -> dict[str, int]:
    index = category_index(session)
    hit = _TOP_POSITIONS.get((kind, lang))
    if hit is None or hit[0] is not index:
        positions: dict[str, int] = {}
        for i, c in enumerate(top_categories(session, kind, lang)):
            positions.setdefault(c["code"], i)
        hit = _TOP_POSITIONS[(kind, lang)] = (index, positions)
    return hit[1]


def top_categories(session: Session, kind: str, lang: str) -> list[dict]:
    """The top-level categories of a kind, in display order: {code, label}."""
    return [
        {"code": node["code"], "label": node["label"]["en" if lang == "en" else "fr"]}
        for node in category_index(session).tree(kind)
    ]


def arrondissements(session: Session) -> list[dict]:
    rows = session.execute(text("SELECT id, name FROM arrondissements ORDER BY id"))
    return [{"code": r.id, "name": r.name} for r in rows]


def visible_contribution(session: Session, contribution_id: int) -> Contribution | None:
    return session.scalar(
        select(Contribution).where(
            Contribution.id == contribution_id,
            Contribution.withdrawn_at.is_(None),
            Contribution.hidden.is_(False),
        )
    )


def my_vote(session: Session, contribution_id: int, user: User | None) -> int | None:
    if user is None:
        return None
    return engagement.tally(session, contribution_id, user.id)["my_vote"]


def is_following(session: Session, contribution_id: int, user: User | None) -> bool:
    if user is None:
        return False
    return session.get(Follow, (contribution_id, user.id)) is not None


def history(session: Session, c: Contribution, user: User | None, lang: str) -> list[dict]:
    """A report's public status changes, or a proposal's answers, oldest first, with their
    labels in `lang`."""
    events = field.history(session, c, user)
    for e in events:
        e["at_dt"] = datetime.fromisoformat(e["at"])
        e["planned_date"] = date.fromisoformat(e["planned_for"]) if e["planned_for"] else None
        e["reason_label"] = label(REASON_LABELS, e["reason"], lang) if e["reason"] else None
        e["resolution_label"] = (label(RESOLUTION_LABELS, e["resolution"], lang)
                                 if e["resolution"] else None)
    return events


def contribution_page(session: Session, c: Contribution, user: User | None, lang: str) -> dict:
    """Everything the contribution page shows, as plain values for the template."""
    shape = to_shape(c.geom)
    comments = engagement.list_comments(session, c.id, 0, 1000)
    return {
        "c": c,
        "category": category_label(session, c.category_id, lang),
        "geometry": mapping(shape),
        "center": (round(shape.representative_point().y, 6), round(shape.representative_point().x, 6)),
        "photos": [
            {
                "url": url_for("contributions.photo", name=f"{p.sha256}.jpg"),
                "thumbnail_url": url_for("contributions.photo", name=f"{p.sha256}.thumb.jpg"),
                "width": p.width,
                "height": p.height,
            }
            for p in c.photos
        ],
        "my_vote": my_vote(session, c.id, user),
        "history": history(session, c, user, lang),
        "links": links(session, c),
        "answer_choices": answer_choices(c),
        "following": is_following(session, c.id, user),
        "comments": comments[:1000],
        "arrondissement_name": session.scalar(
            text("SELECT name FROM arrondissements WHERE id = :id"), {"id": c.arrondissement_id}
        ),
    }


MY_TABS = ("published", "supported", "commented", "followed")
# per page, newest first; older ones page by page on (when, id). A phone shows three or four
# cards a screen; rendering a card (its dates and labels in the page's language) costs about
# 0.35 ms, so 50 cards took 23 ms at 5M against a 20 ms target (bench/README.md, `reads`)
MY_LIMIT = 25


def _my_tab_queries(user: User) -> dict:
    """Each tab of "My contributions" as (contributions, when I did it) rows: what I published
    (hidden ones included, with their badge: I should know), then what I supported, commented
    on and follow among what is public."""
    public = (Contribution.withdrawn_at.is_(None), Contribution.hidden.is_(False))
    # sorted before the join (OFFSET 0 keeps the sort inside): a page then reads its own
    # contributions, not every one I commented on (64 → 6 ms for 3,000 at 5M)
    at = func.max(Comment.created_at).label("at")
    last_comment = (
        select(Comment.contribution_id, at)
        .where(Comment.author_id == user.id, Comment.hidden.is_(False))
        .group_by(Comment.contribution_id)
        .order_by(at.desc(), Comment.contribution_id.desc())
        .offset(0)
        .subquery()
    )
    return {
        "published": select(Contribution, Contribution.created_at)
        .where(Contribution.author_id == user.id, Contribution.withdrawn_at.is_(None)),
        "supported": select(Contribution, Vote.created_at)
        .join(Vote, Vote.contribution_id == Contribution.id)
        .where(Vote.user_id == user.id, Vote.value == 1, *public),
        "commented": select(Contribution, last_comment.c.at)
        .join(last_comment, last_comment.c.contribution_id == Contribution.id)
        .where(*public),
        "followed": select(Contribution, Follow.created_at)
        .join(Follow, Follow.contribution_id == Contribution.id)
        .where(Follow.user_id == user.id, *public),
    }


def my_contributions(session: Session, user: User, lang: str, tab: str = "published",
                     before: tuple[datetime, int] | None = None) -> dict:
    """One page of a tab of "My contributions", newest first, with every tab's count (its
    label); `before` is the (when, id) of the previous page's last item, `next` this page's
    when there are older ones."""
    queries = _my_tab_queries(user)
    # kept per person by the triggers of migration c1d2e3f00027 (what the tab queries count)
    row = session.execute(text(f"SELECT {', '.join(MY_TABS)} FROM my_counts WHERE user_id = :u"),
                          {"u": user.id}).one_or_none()
    counts = dict(zip(MY_TABS, row or (0,) * len(MY_TABS), strict=True))
    query = queries[tab]
    # the row's last column: selected_columns[1] is the entity's second column (its kind)
    when = list(query.selected_columns)[-1]
    if before is not None:
        query = query.where(tuple_(when, Contribution.id) < tuple_(*before))
    rows = session.execute(query.order_by(when.desc(), Contribution.id.desc()).limit(MY_LIMIT + 1)).all()
    items = [{"c": c, "when": at, "category": category_label(session, c.category_id, lang),
              "can_edit": tab == "published" and c.withdrawn_at is None
              and policy.allows(session, user, "contribution.edit", c)}
             for c, at in rows[:MY_LIMIT]]
    last = items[-1] if len(rows) > MY_LIMIT else None
    return {"tab": tab, "counts": counts, "items": items,
            "next": (last["when"], last["c"].id) if last else None}


def links(session: Session, c: Contribution) -> list[dict]:
    """A proposal's reports, or a report's proposals (app.contributions.queries.links_of)."""
    from app.contributions.queries import links_of

    found = links_of(session, c)
    return found.get("reports") or found.get("proposals") or []


def answer_choices(c: Contribution) -> tuple[str, ...]:
    from app.consultations.answers import TRANSITIONS

    return TRANSITIONS.get(c.status, ()) if c.kind == "proposal" else ()
