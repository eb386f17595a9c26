"""The hub service's signing log: which capsule it signed, for whom, with which key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('capsule_signatures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('capsule_id', sa.String(length=64), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('capsule_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capsule_signatures_capsule_id'), ['capsule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_capsule_signatures_user'), ['user'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('capsule_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capsule_signatures_user'))
        batch_op.drop_index(batch_op.f('ix_capsule_signatures_capsule_id'))
    op.drop_table('capsule_signatures')
