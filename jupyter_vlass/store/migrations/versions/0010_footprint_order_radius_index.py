"""An index on (index_order, radius_deg): the largest footprint radius at each index order is a seek

The region search needs, per index order present, the largest footprint radius (how far beyond a cone to
look). It was a GROUP BY over the whole footprint table on the first search after each start or sync
(about 1 s at 10^6 footprints); with this index it is one MAX per order, each read from the index's end.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_footprint_order_radius", "datasets", ["index_order", "radius_deg"])


def downgrade() -> None:
    op.drop_index("ix_footprint_order_radius", table_name="datasets")
