"""Explainability, hub-wide: consensus results, expert votes, the hash-chained audit trail

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consensus_results',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dataset_id', sa.String(length=512), nullable=False),
    sa.Column('version', sa.String(length=128), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('detections', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('consensus_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consensus_results_dataset_id'), ['dataset_id'], unique=False)
    op.create_table('audit_entries',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('previous', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_subject'), ['subject'], unique=False)
    op.create_table('votes',
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('detection', sa.Integer(), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['result_id'], ['consensus_results.id'], ),
    sa.PrimaryKeyConstraint('result_id', 'detection', 'user')
    )


def downgrade() -> None:
    op.drop_table('votes')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_subject'))
    op.drop_table('audit_entries')
    with op.batch_alter_table('consensus_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consensus_results_dataset_id'))
    op.drop_table('consensus_results')
