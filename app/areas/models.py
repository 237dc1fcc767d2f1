"""Reference data: arrondissements, quartiers, services, categories, addresses."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base


class Arrondissement(Base):
    __tablename__ = "arrondissements"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    insee_code: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(Text)
    area_m2: Mapped[float]
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", 4326, spatial_index=False))


class Quartier(Base):
    __tablename__ = "quartiers"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    insee_code: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(Text)
    arrondissement_id: Mapped[int] = mapped_column(ForeignKey("arrondissements.id"))
    area_m2: Mapped[float]
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", 4326, spatial_index=False))


class Service(Base):
    """The team that fixes a kind of report (DansMaRue's 'intervenant' units)."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_fr: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class Category(Base):
    """A two-level tree per kind: report types and sub-types, proposal themes."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint("kind IN ('report', 'proposal')", name="kind"),
        Index("uq_categories_kind_source_label", "kind", "source_label", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    label_fr: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    # the label in the source dataset (DansMaRue 'type' or 'type / soustype'), for imports
    source_label: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    # never offered to residents, refused from them (DansMaRue's "[réservé agents …]")
    agent_only: Mapped[bool] = mapped_column(default=False)
    # the public sees its contributions at the centre of their 100 m cell, without address
    sensitive: Mapped[bool] = mapped_column(default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # no new ones

    service: Mapped[Service | None] = relationship(lazy="joined")


class Address(Base):
    """A BAN address point (Base Adresse Nationale, Licence Ouverte 2.0)."""

    __tablename__ = "addresses"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    number: Mapped[str] = mapped_column(Text)
    street: Mapped[str] = mapped_column(Text)
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[int]
    label: Mapped[str] = mapped_column(Text)
    # folded label (lower case, no accents) searched with pg_trgm
    search: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    # another point of a number whose door has one (the Paris file's technical suffixes):
    # the nearest-address lookup uses it, the search does not offer it
    secondary: Mapped[bool] = mapped_column(default=False, server_default="false")


class Street(Base):
    """A BAN street or square in one postcode, found by name before its house numbers.
    Filled from the addresses by the address loader (see migration c5d6e7f00021)."""

    __tablename__ = "streets"
    __table_args__ = (
        CheckConstraint("numbers > 0", name="numbers"),
        UniqueConstraint("name", "postcode"),
    )

    # the BAN street key, from its numbers' ids, and the postcode ("75103_8083_75003")
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    postcode: Mapped[str] = mapped_column(String(5))
    label: Mapped[str] = mapped_column(Text)
    # folded name (lower case, no accents) searched with pg_trgm
    search: Mapped[str] = mapped_column(Text)
    numbers: Mapped[int]  # how many house numbers it has
    # the house number nearest the centroid of its numbers: a point on the street
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    # the envelope of its numbers, which the map zooms to (a point for a single number)
    extent: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", 4326, spatial_index=False))
