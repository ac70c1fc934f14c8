"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bot.domain.model import Base


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            # Money is stored as text on SQLite (bot.domain.model.Money), which type comparison
            # would report on every money column; PostgreSQL compares types too.
            context = MigrationContext.configure(conn, opts={"compare_type": conn.dialect.name != "sqlite"})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
