"""Tables of the registry. SQLite for one user or a demo, PostgreSQL for a shared hub."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    uri: Mapped[str] = mapped_column(Text)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    synced_at: Mapped[datetime | None]  # the last sync that harvested the source completely
    checked_at: Mapped[datetime | None]  # the last time a sync reached the source (changed or not)
    fingerprint: Mapped[str | None] = mapped_column(String(128))
    # Exponential moving average of the source's measured access latency (seconds).
    latency_s: Mapped[float | None] = mapped_column(Float)
    latency_samples: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)


ONE_DIALECT = {"ix_footprint_cover": "sqlite", "ix_footprint_cell": "postgresql"}  # indexes one database has
FOOTPRINT_COVER = ("index_order", "index_cell", "withdrawn_at", "access_tier", "source", "s_ra", "s_dec", "radius_deg",
                   "moc_depth", "moc_cells", "dataset_id", "version", "pk", "moc")


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version", name="uq_dataset_version"),
        # SQLite: the region search's candidates read from this index alone, MOC included (migration 0011;
        # federation/index_query.py). PostgreSQL: the cells only (a B-tree entry there is limited to 2.7 kB, and
        # its Q3C index finds the candidates).
        Index("ix_footprint_cover", *FOOTPRINT_COVER).ddl_if(dialect=ONE_DIALECT["ix_footprint_cover"]),
        Index("ix_footprint_cell", "index_order", "index_cell").ddl_if(dialect=ONE_DIALECT["ix_footprint_cell"]),
        Index("ix_footprint_order_radius", "index_order", "radius_deg"),  # the largest radius per order: a seek
        Index("ix_dataset_source", "source"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(64), ForeignKey("sources.name", ondelete="CASCADE"))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    s_ra: Mapped[float] = mapped_column(Float)
    s_dec: Mapped[float] = mapped_column(Float)
    radius_deg: Mapped[float] = mapped_column(Float)
    moc_depth: Mapped[int] = mapped_column(Integer)
    moc: Mapped[bytes] = mapped_column(LargeBinary)
    moc_cells: Mapped[int | None] = mapped_column(BigInteger)  # the MOC's area in depth-29 cells (migration 0009)
    index_order: Mapped[int] = mapped_column(Integer)
    index_cell: Mapped[int] = mapped_column(Integer)
    em_min: Mapped[float | None] = mapped_column(Float)
    em_max: Mapped[float | None] = mapped_column(Float)
    access_tier: Mapped[str] = mapped_column(String(16), default="public")
    size: Mapped[int | None] = mapped_column(Integer)
    dataproduct_type: Mapped[str] = mapped_column(String(32), default="image")
    access_format: Mapped[str] = mapped_column(String(128))
    release_date: Mapped[str | None] = mapped_column(String(32))
    ingested_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    provenance: Mapped[dict] = mapped_column(JSON, default=dict)
    derived_from: Mapped[list] = mapped_column(JSON, default=list)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    etag: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))


class LineageRow(Base):
    """``child`` was derived from the dataset version pinned as ``parent_pin`` (``uri@version``)."""

    __tablename__ = "lineage"

    child_pk: Mapped[int] = mapped_column(ForeignKey("datasets.pk", ondelete="CASCADE"), primary_key=True)
    parent_pin: Mapped[str] = mapped_column(String(1024), primary_key=True, index=True)


def footprint_indexes(dialect) -> list[Index]:
    """The footprint table's secondary indexes that a database of ``dialect`` has."""
    return [index for index in DatasetRow.__table__.indexes if ONE_DIALECT.get(index.name, dialect.name) == dialect.name]
