"""SQLite: the footprint cell index covers the region search's candidate columns

The search read each candidate row from the table after finding it in the ``(index_order, index_cell)``
index: a lookup per row, about 4 us each in SQLite. ``ix_footprint_cover`` starts with the same two columns
and also holds everything deciding a match, measuring it and ranking it need (access, position, radius, MOC
depth, area and the MOC itself, dataset id and version, primary key), so the candidates are read from the
index alone, in cell order (about 1 us a row). It replaces ``ix_footprint_cell`` on SQLite. PostgreSQL keeps
``ix_footprint_cell``: a B-tree entry there is limited to 2.7 kB (a MOC may be longer), and the candidates
come from its Q3C index where it has one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

COLUMNS = ["index_order", "index_cell", "withdrawn_at", "access_tier", "source", "s_ra", "s_dec", "radius_deg",
           "moc_depth", "moc_cells", "dataset_id", "version", "pk", "moc"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_footprint_cover", "datasets", COLUMNS)
        op.drop_index("ix_footprint_cell", table_name="datasets")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_footprint_cell", "datasets", ["index_order", "index_cell"])
        op.drop_index("ix_footprint_cover", table_name="datasets")
