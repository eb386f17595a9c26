"""The result key the hub service computed for each job it authorized (the hub-wide result cache)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_records') as batch:
        batch.add_column(sa.Column('result_key', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job_records') as batch:
        batch.drop_column('result_key')
