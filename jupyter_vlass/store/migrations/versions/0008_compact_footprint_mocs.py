"""Footprint MOCs stored at their own depth as uint32 pairs: half the bytes of depth-29 uint64 pairs

At 10^6 footprints the MOC blobs were 227 of the 492 bytes a row took (benchmarks/region_query.py). A MOC
of depth <= 14 now stores its ranges at that depth as little-endian uint32 (``footprints.encode_ranges``);
deeper ones keep depth-29 uint64. The same cells, read back exactly (tests/store/test_migrations.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op
import numpy as np
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COMPACT_MAX_DEPTH = 14  # as footprints.COMPACT_MAX_DEPTH, frozen here: this migration's format
BATCH = 10_000

datasets = sa.table("datasets", sa.column("pk", sa.Integer), sa.column("moc_depth", sa.Integer),
                    sa.column("moc", sa.LargeBinary))


def _rewrite(convert) -> None:
    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(sa.select(datasets.c.pk, datasets.c.moc_depth, datasets.c.moc)
                            .where(datasets.c.pk > last, datasets.c.moc_depth <= COMPACT_MAX_DEPTH)
                            .order_by(datasets.c.pk).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(datasets.update().where(datasets.c.pk == sa.bindparam("b_pk"))
                     .values(moc=sa.bindparam("b_moc")),
                     [{"b_pk": r.pk, "b_moc": convert(bytes(r.moc), 2 * (29 - r.moc_depth))} for r in rows])
        last = rows[-1].pk


def _compact(blob: bytes, shift: int) -> bytes:
    return (np.frombuffer(blob, dtype="<u8") >> np.uint64(shift)).astype("<u4").tobytes()


def _wide(blob: bytes, shift: int) -> bytes:
    return (np.frombuffer(blob, dtype="<u4").astype(np.uint64) << np.uint64(shift)).astype("<u8").tobytes()


def upgrade() -> None:
    _rewrite(_compact)


def downgrade() -> None:
    _rewrite(_wide)
