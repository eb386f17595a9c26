"""Footprint MOCs stored compactly: range boundaries at the MOC's own depth as varint differences

At 10^6 footprints the MOC blobs were 227 of the 492 bytes a row took (benchmarks/region_query.py, depth 9);
a VLASS Quick Look-sized box at depth 10 takes 445 bytes as release 0.1.0's depth-29 uint64 pairs and 61 in
format 1 of ``jupyter_vlass.store.moc_codec``. The same cells, read back exactly (tests/store/test_migrations.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op
import numpy as np
import sqlalchemy as sa

from jupyter_vlass.store import moc_codec  # format 1, which this revision writes (the module is never changed)


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BATCH = 10_000

datasets = sa.table("datasets", sa.column("pk", sa.Integer), sa.column("moc_depth", sa.Integer),
                    sa.column("moc", sa.LargeBinary))


def _rewrite(convert) -> None:
    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(sa.select(datasets.c.pk, datasets.c.moc_depth, datasets.c.moc)
                            .where(datasets.c.pk > last).order_by(datasets.c.pk).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(datasets.update().where(datasets.c.pk == sa.bindparam("b_pk"))
                     .values(moc=sa.bindparam("b_moc")),
                     [{"b_pk": r.pk, "b_moc": convert(bytes(r.moc), r.moc_depth)} for r in rows])
        last = rows[-1].pk


def _compact(blob: bytes, depth: int) -> bytes:
    return moc_codec.encode(np.frombuffer(blob, dtype="<u8").reshape(-1, 2), depth)


def _wide(blob: bytes, depth: int) -> bytes:
    return moc_codec.decode(blob, depth).astype("<u8").tobytes()


def upgrade() -> None:
    _rewrite(_compact)


def downgrade() -> None:
    _rewrite(_wide)
