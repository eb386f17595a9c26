"""Users' ORCID iDs from the hub's login, recorded by the spawner (what a signed capsule may name)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_identities',
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('orcid', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user')
    )


def downgrade() -> None:
    op.drop_table('user_identities')
