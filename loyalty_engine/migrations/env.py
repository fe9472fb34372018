"""Alembic environment: runs on the engine handed over in config.attributes (or the URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from loyalty_engine.db import make_engine
from loyalty_engine.migrations import include_object
from loyalty_engine.schema import metadata

config = context.config


def run() -> None:
    engine: Engine = config.attributes.get("engine") or make_engine(
        config.get_main_option("sqlalchemy.url") or ""
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
