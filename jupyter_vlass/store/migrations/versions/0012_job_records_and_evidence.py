"""The hub service's job records (what it authorized, the sha256 of what each job wrote) and the evidence
the consensus is computed from

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_records',
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('project', sa.String(length=64), nullable=True),
    sa.Column('site', sa.String(length=32), nullable=False),
    sa.Column('notebook', sa.String(length=512), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('authorized', sa.Boolean(), nullable=False),
    sa.Column('authorized_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('outputs', sa.JSON(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('user', 'job_id')
    )
    op.create_index('ix_job_record_user_ended', 'job_records', ['user', 'ended_at'])
    op.create_table('job_evidence',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )


def downgrade() -> None:
    op.drop_table('job_evidence')
    op.drop_index('ix_job_record_user_ended', table_name='job_records')
    op.drop_table('job_records')
