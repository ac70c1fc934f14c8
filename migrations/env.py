"""Alembic environment: the database URL comes from bot.settings (DATABASE_URL)."""

from alembic import context
from sqlalchemy import create_engine

from bot.domain.model import metadata
from bot.settings import load_settings

config = context.config
url = config.attributes.get("database_url") or load_settings().database_url


def _compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type):  # type: ignore[no-untyped-def]
    # Money is Numeric(12, 2) stored the portable way; not a schema change.
    if type(metadata_type).__name__ == "Money":
        return False
    return None


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True, compare_type=_compare_type)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=_compare_type)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
