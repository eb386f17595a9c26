"""Each footprint's MOC area, in depth-29 cells, stored beside the MOC

A region search measures how much of the region each footprint covers. A footprint whose every MOC cell lies
inside a cone covers exactly its own area, so with the area stored the search takes it from the row instead
of decoding and measuring the MOC (``jupyter_vlass.federation.index_query``); only footprints on the region's
edge are measured. Existing rows are filled in from their MOCs, in batches.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from alembic import op
import numpy as np
import sqlalchemy as sa

from jupyter_vlass.store import moc_codec  # format 1, as revision 0008 wrote it


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BATCH = 10_000

datasets = sa.table("datasets", sa.column("pk", sa.Integer), sa.column("moc_depth", sa.Integer),
                    sa.column("moc", sa.LargeBinary), sa.column("moc_cells", sa.BigInteger))


def _cells(blob: bytes, depth: int) -> int:
    ranges = moc_codec.decode(bytes(blob), depth).astype(np.int64).reshape(-1, 2)
    return int((ranges[:, 1] - ranges[:, 0]).sum())


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("moc_cells", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(sa.select(datasets.c.pk, datasets.c.moc_depth, datasets.c.moc)
                            .where(datasets.c.pk > last).order_by(datasets.c.pk).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(datasets.update().where(datasets.c.pk == sa.bindparam("b_pk"))
                     .values(moc_cells=sa.bindparam("b_cells")),
                     [{"b_pk": r.pk, "b_cells": _cells(r.moc, r.moc_depth)} for r in rows])
        last = rows[-1].pk


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("moc_cells")
