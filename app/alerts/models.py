"""Area alerts: an account follows an arrondissement, a quartier or a radius around an address
(migration b4c5d6e00020 holds the shape's CHECK and the one-alert-per-area indexes)."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, SmallInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

AREAS = ("arrondissement", "quartier", "radius")
KINDS = ("reports", "proposals", "both")
# the contribution kinds an alert's `kinds` covers
KIND_VALUES = {"reports": ("report",), "proposals": ("proposal",), "both": ("report", "proposal")}


class AreaAlert(Base):
    __tablename__ = "area_alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    area: Mapped[str] = mapped_column(Text)
    arrondissement_id: Mapped[int | None] = mapped_column(SmallInteger, ForeignKey("arrondissements.id"))
    quartier_id: Mapped[int | None] = mapped_column(SmallInteger, ForeignKey("quartiers.id"))
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    radius_m: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(Text)
    kinds: Mapped[str] = mapped_column(Text, default="both")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the digest's watermark: contributions created before it were considered
    seen_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    digest_on: Mapped[date | None]
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def author_id(self) -> int:
        """The policy's AUTHOR of an alert: the account that follows the area."""
        return self.user_id
