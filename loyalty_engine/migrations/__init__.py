"""Alembic, driven from code: `upgrade`, and the checks behind /readyz and the serve guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent
# Tables our migrations create for a library (APScheduler's job store) rather than from our models.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate compares only our own tables."""
    table = obj.table.name if type_ in ("index", "column", "unique_constraint") else name
    return table not in FOREIGN_TABLES


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to head; idempotent. Returns (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, head_revision(engine)


def not_migrated_message(engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=True)
    return (
        f"the database at {url} is not migrated (at revision {current_revision(engine) or 'none'}, "
        f"code expects {head_revision(engine)}): run `loyalty migrate` first"
    )
