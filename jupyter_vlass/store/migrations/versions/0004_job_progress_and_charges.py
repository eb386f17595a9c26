"""Jobs: staging progress, the allocation (project) a job is charged to, whether it was charged; project
members and job reports (the hub service's)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_reports',
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('project', sa.String(length=64), nullable=True),
    sa.Column('site', sa.String(length=32), nullable=False),
    sa.Column('site_kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('submitted', sa.Boolean(), nullable=False),
    sa.Column('cached', sa.Boolean(), nullable=False),
    sa.Column('queue_wait_s', sa.Float(), nullable=True),
    sa.Column('status_lag_s', sa.Float(), nullable=True),
    sa.Column('su', sa.Float(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user', 'job_id')
    )
    op.create_table('project_members',
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('project', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user', 'project')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('project', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('charged', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('status_lag_s', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('status_lag_s')
        batch_op.drop_column('charged')
        batch_op.drop_column('project')
        batch_op.drop_column('progress')
    op.drop_table('project_members')
    op.drop_table('job_reports')
