"""The one spatial table of everything residents put on the map, and its photos."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    FetchedValue,
    ForeignKey,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.areas.models import Category, Quartier
from app.consultations import (
    models as _consultations,  # noqa: F401  (contributions.consultation_id)
)
from app.db import Base

KINDS = ("report", "proposal")
REPORT_STATUSES = (
    "new",
    "acknowledged",
    "scheduled",
    "resolved",
    "rejected",
    "duplicate",
    "transferred",
    "monitoring",
)
REPORT_OPEN = ("new", "acknowledged", "scheduled", "monitoring", "transferred")
REPORT_CLOSED = ("resolved", "rejected", "duplicate")
PROPOSAL_STATUSES = ("published", "under_review", "accepted", "realised", "rejected")
INITIAL_STATUS = {"report": "new", "proposal": "published"}
STATUSES = {"report": REPORT_STATUSES, "proposal": PROPOSAL_STATUSES}
# filter words that stand for several statuses
STATUS_GROUPS = {"report": {"open": REPORT_OPEN, "closed": REPORT_CLOSED}, "proposal": {}}


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Contribution(Base):
    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(KINDS)})", name="kind"),
        CheckConstraint(
            f"(kind = 'report' AND status IN ({_sql_list(REPORT_STATUSES)})) OR "
            f"(kind = 'proposal' AND status IN ({_sql_list(PROPOSAL_STATUSES)}))",
            name="status",
        ),
        CheckConstraint(
            "kind = 'proposal' OR GeometryType(geom) = 'POINT'", name="report_is_point"
        ),
        CheckConstraint("char_length(title) BETWEEN 3 AND 140", name="title"),
        CheckConstraint("char_length(description) <= 5000", name="description"),
        UniqueConstraint("source_id", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    # the trigger contributions_coarse may replace it (a sensitive category): read back
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", 4326, spatial_index=False),
                                             server_default=FetchedValue(),
                                             server_onupdate=FetchedValue())
    # in a sensitive category: the exact geometry, which staff see; `geom` is then the coarse
    # public point (the contributions_coarse trigger keeps both)
    exact_geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("GEOMETRY", 4326, spatial_index=False), server_default=FetchedValue(),
        server_onupdate=FetchedValue())
    # metric copy for distances, grids and clustering (Lambert-93)
    geom_l93: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", 2154, spatial_index=False),
        Computed("ST_Transform(geom, 2154)", persisted=True),
    )
    # its point (a shape's point on surface) in Web Mercator: the map's cells (geo/grid.py)
    map_x: Mapped[float] = mapped_column(Computed(
        "ST_X(ST_Transform(CASE WHEN GeometryType(geom) = 'POINT' THEN geom "
        "ELSE ST_PointOnSurface(geom) END, 3857))", persisted=True))
    map_y: Mapped[float] = mapped_column(Computed(
        "ST_Y(ST_Transform(CASE WHEN GeometryType(geom) = 'POINT' THEN geom "
        "ELSE ST_PointOnSurface(geom) END, 3857))", persisted=True))
    # set by the contributions_locate trigger from the point on surface
    arrondissement_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey("arrondissements.id"),
        server_default=FetchedValue(),
        server_onupdate=FetchedValue(),
    )
    quartier_id: Mapped[int] = mapped_column(
        SmallInteger,
        ForeignKey("quartiers.id"),
        server_default=FetchedValue(),
        server_onupdate=FetchedValue(),
    )
    address: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[str | None] = mapped_column(Text)
    votes_up: Mapped[int] = mapped_column(default=0)
    votes_down: Mapped[int] = mapped_column(default=0)
    comments_count: Mapped[int] = mapped_column(default=0)
    photos_count: Mapped[int] = mapped_column(default=0)
    hidden: Mapped[bool] = mapped_column(default=False)
    # field workflow (reports)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id"), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    priority: Mapped[str | None] = mapped_column(String(10))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    planned_for: Mapped[date | None]
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id"))
    transferred_to: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(String(20))
    rejection_reason: Mapped[str | None] = mapped_column(String(30))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopen_count: Mapped[int] = mapped_column(default=0)
    followers_count: Mapped[int] = mapped_column(default=0)
    is_demo: Mapped[bool] = mapped_column(default=False)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the consultation a proposal answers (app.consultations)
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    category: Mapped[Category] = relationship(lazy="joined")
    quartier: Mapped[Quartier] = relationship(lazy="joined")
    author: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[author_id])
    photos: Mapped[list[Photo]] = relationship(order_by="Photo.position", lazy="selectin")


class Photo(Base):
    """A photo, re-encoded without metadata; files are named by the SHA-256 of their content."""

    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("contribution_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(
        ForeignKey("contributions.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    position: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
