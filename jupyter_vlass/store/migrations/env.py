"""Alembic environment: runs on the connection that ``store.migrate`` hands over (never from a config file)."""

from alembic import context

from jupyter_vlass.store.models import Base
from jupyter_vlass.store import compute_models, consensus_models, job_models  # noqa: F401  (their tables are on Base.metadata too)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
