"""The migration history builds exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from schooldata.db import SQLITE_PAGE_SIZE, make_engine, upgrade
from schooldata.tables import metadata


def test_the_migrations_build_the_declared_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_a_new_sqlite_database_has_large_pages_and_an_existing_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    import sqlite3

    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()

    # A database made before (4 KB pages) is opened as it is, its data intact.
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as made:
        made.execute("PRAGMA page_size=4096")
        made.execute("CREATE TABLE kept (value INTEGER)")
        made.execute("INSERT INTO kept VALUES (7)")
    made.close()
    engine = make_engine(f"sqlite:///{old}")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert connection.exec_driver_sql("SELECT value FROM kept").scalar() == 7
    engine.dispose()
