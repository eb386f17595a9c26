"""Tables of release 0.1.0: registry, ledger, approvals

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('allocations',
    sa.Column('project', sa.String(length=64), nullable=False),
    sa.Column('granted_su', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('project')
    )
    op.create_table('approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('project', sa.String(length=64), nullable=False),
    sa.Column('profile', sa.String(length=64), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('gpu_hours', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.create_index('ix_approval_digest', ['digest'], unique=False)
        batch_op.create_index('ix_approval_user', ['user'], unique=False)

    op.create_table('charges',
    sa.Column('cluster', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('project', sa.String(length=64), nullable=False),
    sa.Column('partition', sa.String(length=64), nullable=False),
    sa.Column('nodes', sa.Integer(), nullable=False),
    sa.Column('gpus', sa.Integer(), nullable=False),
    sa.Column('elapsed_s', sa.Integer(), nullable=False),
    sa.Column('su', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('cluster', 'job_id')
    )
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_index('ix_charge_project', ['project'], unique=False)

    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('synced_at', sa.DateTime(), nullable=True),
    sa.Column('fingerprint', sa.String(length=128), nullable=True),
    sa.Column('latency_s', sa.Float(), nullable=True),
    sa.Column('latency_samples', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('datasets',
    sa.Column('pk', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.String(length=512), nullable=False),
    sa.Column('version', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('s_ra', sa.Float(), nullable=False),
    sa.Column('s_dec', sa.Float(), nullable=False),
    sa.Column('radius_deg', sa.Float(), nullable=False),
    sa.Column('moc_depth', sa.Integer(), nullable=False),
    sa.Column('moc', sa.LargeBinary(), nullable=False),
    sa.Column('index_order', sa.Integer(), nullable=False),
    sa.Column('index_cell', sa.Integer(), nullable=False),
    sa.Column('em_min', sa.Float(), nullable=True),
    sa.Column('em_max', sa.Float(), nullable=True),
    sa.Column('access_tier', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('dataproduct_type', sa.String(length=32), nullable=False),
    sa.Column('access_format', sa.String(length=128), nullable=False),
    sa.Column('release_date', sa.String(length=32), nullable=True),
    sa.Column('ingested_at', sa.DateTime(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('provenance', sa.JSON(), nullable=False),
    sa.Column('derived_from', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['source'], ['sources.name'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('dataset_id', 'version', name='uq_dataset_version')
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_source', ['source'], unique=False)
        batch_op.create_index('ix_footprint_cell', ['index_order', 'index_cell'], unique=False)

    op.create_table('lineage',
    sa.Column('child_pk', sa.Integer(), nullable=False),
    sa.Column('parent_pin', sa.String(length=1024), nullable=False),
    sa.ForeignKeyConstraint(['child_pk'], ['datasets.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('child_pk', 'parent_pin')
    )
    with op.batch_alter_table('lineage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lineage_parent_pin'), ['parent_pin'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lineage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lineage_parent_pin'))

    op.drop_table('lineage')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index('ix_footprint_cell')
        batch_op.drop_index('ix_dataset_source')

    op.drop_table('datasets')
    op.drop_table('sources')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_index('ix_charge_project')

    op.drop_table('charges')
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_user')
        batch_op.drop_index('ix_approval_digest')

    op.drop_table('approvals')
    op.drop_table('allocations')
