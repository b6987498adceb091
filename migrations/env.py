"""Alembic environment: run migrations on the owner connection given in the config.

The migrations are hand-written SQL; ``target_metadata`` is the same schema as declared in
:mod:`core.tables`, so alembic's comparison (tests/test_drift.py, autogenerate) can tell
when the two disagree.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from core.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    """Each migration file runs in one transaction with the whole upgrade."""
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by core.db.alembic_config"
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, transaction_per_migration=False
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: the schema uses PL/pgSQL")
run_migrations_online()
