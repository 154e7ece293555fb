"""The migration history builds exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def test_the_school_keyed_migration_keeps_every_row_of_a_database_made_before_it(
    tmp_path: Path,
) -> None:
    """A database built at revision 0010 (student IDs unique across schools, one student
    row per child), with a child who moved from S1 to S2 in November 2024: every row
    survives, each record at the school of its time, the child one person at both."""
    from datetime import datetime

    import sqlalchemy as sa
    from alembic import command

    from schooldata.audit import GENESIS, row_hash, verify
    from schooldata.db import alembic_config, read_table

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0010")
    old = [
        "INSERT INTO schools (school_id) VALUES ('S1'), ('S2')",
        "INSERT INTO students (student_id, school_id, given_name, national_id_hash) VALUES "
        "('ST1', 'S2', 'ย้าย', 'hash-of-st1'), ('ST2', 'S1', 'อยู่', NULL)",
        "INSERT INTO enrollments (student_id, academic_year, term, school_id, grade_level, "
        "advisor_id) VALUES ('ST1', 2567, 1, 'S1', 'M1', 'T1'), ('ST1', 2567, 2, 'S2', 'M1', "
        "'T2'), ('ST2', 2567, 1, 'S1', 'M1', 'T1'), ('ST2', 2567, 2, 'S1', 'M1', 'T1')",
        "INSERT INTO attendance (student_id, date, status) VALUES ('ST1', '2024-06-03', "
        "'present'), ('ST1', '2024-11-04', 'absent'), ('ST2', '2024-06-03', 'present')",
        "INSERT INTO grades (student_id, academic_year, term, subject_code, grade) VALUES "
        "('ST1', 2567, 1, 'TH', '3'), ('ST1', 2567, 2, 'TH', '2')",
        "INSERT INTO exits (student_id, exit_date, exit_type) VALUES "
        "('ST1', '2024-10-01', 'transfer')",
        "INSERT INTO interventions (student_id, date, type, origin) VALUES "
        "('ST1', '2024-11-05', 'home_visit', 'import'), ('ST2', '2024-06-10', 'counselling', "
        "'service')",
        "INSERT INTO score_runs (run_id, as_of, model_version, created_at, students) VALUES "
        "(1, '2024-11-11', '1', '2024-11-11 00:00:00', 1)",
        "INSERT INTO student_scores (run_id, student_id, school_id, risk, raw_score, base_value, "
        "tier, rank_in_school, rank_in_advisor, contributions, reasons, change) VALUES "
        "(1, 'ST1', 'S2', 0.1, -2.0, -3.0, 'watch', 1, 1, '[]', '[]', 'new')",
    ]
    entry = {
        "at": datetime(2024, 11, 11),
        "user_id": None,
        "actor": "cli",
        "action": "read",
        "student_id": "ST1",
        "endpoint": "test",
        "detail": None,
    }
    with engine.begin() as connection:
        for statement in old:
            connection.execute(sa.text(statement))
        connection.execute(
            sa.text(
                "INSERT INTO audit_log (at, user_id, actor, action, student_id, endpoint, "
                "detail, prev_hash, row_hash) VALUES (:at, :user_id, :actor, :action, "
                ":student_id, :endpoint, :detail, :prev_hash, :row_hash)"
            ).bindparams(sa.bindparam("at", type_=sa.DateTime())),
            entry | {"prev_hash": GENESIS, "row_hash": row_hash(GENESIS, entry)},
        )
    upgrade(engine)

    def keyed(name: str, *columns: str) -> list[tuple[object, ...]]:
        frame = read_table(engine, name)
        return sorted(tuple(str(v) for v in row) for row in frame[list(columns)].to_numpy())

    assert keyed("attendance", "school_id", "student_id", "date") == [
        ("S1", "ST1", "2024-06-03 00:00:00"),
        ("S1", "ST2", "2024-06-03 00:00:00"),
        ("S2", "ST1", "2024-11-04 00:00:00"),
    ]
    assert keyed("grades", "school_id", "student_id", "term") == [
        ("S1", "ST1", "1"),
        ("S2", "ST1", "2"),
    ]
    assert keyed("exits", "school_id", "student_id") == [("S1", "ST1")]
    assert keyed("interventions", "school_id", "student_id", "origin") == [
        ("S1", "ST2", "service"),
        ("S2", "ST1", "import"),
    ]
    assert keyed("enrollments", "school_id", "student_id") == [
        ("S1", "ST1"),
        ("S1", "ST2"),
        ("S1", "ST2"),
        ("S2", "ST1"),
    ]
    students = read_table(engine, "students").set_index(["school_id", "student_id"])
    assert sorted(students.index) == [("S1", "ST1"), ("S1", "ST2"), ("S2", "ST1")]
    assert students.loc[("S1", "ST1"), "person_id"] == students.loc[("S2", "ST1"), "person_id"]
    assert students.loc[("S1", "ST1"), "given_name"] == "ย้าย"  # copied to the old school's row
    assert students.loc[("S1", "ST2"), "person_id"] != students.loc[("S1", "ST1"), "person_id"]
    with engine.connect() as connection:
        scores = connection.execute(sa.text("SELECT school_id, student_id FROM student_scores"))
        assert scores.all() == [("S2", "ST1")]
    assert verify(engine).broken_at is None


def test_lists_opened_and_first_flags_are_filled_from_a_database_made_before_them(
    tmp_path: Path,
) -> None:
    """A database at revision 0025 holds the audit log's readings of lists and two weeks'
    stored lists: the upgrade counts who opened which school's list on which Bangkok day,
    and each flagged student's first week on a list; the audit log keeps every row."""
    from datetime import date, datetime

    import sqlalchemy as sa
    from alembic import command

    from schooldata.db import alembic_config
    from schooldata.tables import first_flags, lists_opened
    from tests.conftest import stored_list

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0025")
    week1, week2 = date(2025, 6, 2), date(2025, 6, 9)
    with engine.begin() as connection:
        for run_id, as_of, tiers in (
            (1, week2, {"s1": "high", "s2": "low"}),  # week 2 scored before week 1
            (2, week1, {"s1": "watch", "s3": "high"}),
            (3, week2, {"s2": "watch", "s3": "low"}),  # another model's list of week 2
        ):
            stored_list(connection, run_id, as_of, tiers)
        # Readings in UTC: 16:59 and 17:00 on 1 June are 23:59 on the 1st and 00:00 on
        # the 2nd in Bangkok; a reading of a student's page, and one by nobody, are not
        # lists opened.
        for at, user, endpoint, school in (
            (datetime(2025, 6, 1, 16, 59), 7, "GET /list", "A"),
            (datetime(2025, 6, 1, 17, 0), 7, "GET /list", "A"),
            (datetime(2025, 6, 2, 3, 0), 7, "GET /api/v1/risk-list", "A"),
            (datetime(2025, 6, 2, 3, 0), 8, "GET /list", "B"),
            (datetime(2025, 6, 2, 3, 0), 9, "GET /students/{id}", "A"),
            (datetime(2025, 6, 2, 3, 0), None, "GET /list", "A"),
        ):
            for code in ("s1", "s2"):  # a row for each student the list shows
                connection.execute(
                    sa.text(
                        "INSERT INTO audit_log (at, user_id, student_id, school_id, endpoint,"
                        " action) VALUES (:at, :user, :code, :school, :endpoint, 'read')"
                    ),
                    {"at": at, "user": user, "code": code, "school": school, "endpoint": endpoint},
                )

    upgrade(engine)

    with engine.connect() as connection:
        opened = connection.execute(sa.select(lists_opened)).all()
        first = connection.execute(sa.select(first_flags)).all()
        logged = connection.exec_driver_sql("SELECT count(*) FROM audit_log").scalar()
    assert sorted(opened) == [
        (date(2025, 6, 1), "A", 7),
        (date(2025, 6, 2), "A", 7),
        (date(2025, 6, 2), "B", 8),
    ]
    assert sorted(first) == [("A", "s1", week1), ("A", "s2", week2), ("A", "s3", week1)]
    assert logged == 12


def test_last_actions_are_filled_from_the_records_in_force_of_a_database_made_before_them(
    tmp_path: Path,
) -> None:
    """A database at revision 0027 holds records of help, one of them corrected to an
    earlier day: the upgrade keeps each student's last action from the records in force
    (the corrected one is void), apart for two schools' students with one code."""
    from datetime import date

    import sqlalchemy as sa
    from alembic import command

    from schooldata.db import alembic_config
    from schooldata.tables import last_actions

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0027")
    with engine.begin() as connection:
        for record_id, school, code, day, corrects in (
            (1, "A", "s1", date(2025, 6, 3), None),
            (2, "A", "s1", date(2025, 7, 1), None),
            (3, "A", "s2", date(2025, 8, 1), None),  # recorded for the wrong day...
            (4, "A", "s2", date(2025, 6, 20), 3),  # ... and corrected to an earlier one
            (5, "B", "s1", date(2025, 5, 9), None),  # another school's s1
        ):
            connection.execute(
                sa.text(
                    "INSERT INTO interventions (intervention_id, school_id, student_id, date,"
                    " type, origin, corrects) VALUES (:id, :school, :code, :day, 'home_visit',"
                    " 'service', :corrects)"
                ),
                {"id": record_id, "school": school, "code": code, "day": day, "corrects": corrects},
            )

    upgrade(engine)

    with engine.connect() as connection:
        last = connection.execute(sa.select(last_actions)).all()
        records = connection.exec_driver_sql("SELECT count(*) FROM interventions").scalar()
    assert sorted(last) == [
        ("A", "s1", date(2025, 7, 1)),
        ("A", "s2", date(2025, 6, 20)),
        ("B", "s1", date(2025, 5, 9)),
    ]
    assert records == 5


def test_numbers_are_never_given_twice_after_the_upgrade_of_a_database_made_before(
    tmp_path: Path,
) -> None:
    """A database at revision 0029 holds records of help (imported, and a staff record
    with its correction) and children to look for: the upgrade keeps every row, index and
    trigger as they were, and the number of a row removed at the top is not given again
    (before, SQLite gave it to the next row)."""
    import sqlite3
    from datetime import date, datetime

    import sqlalchemy as sa
    from alembic import command

    from schooldata.db import alembic_config

    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    command.upgrade(alembic_config(engine), "0029")
    now = datetime.now()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO interventions (intervention_id, school_id, student_id, date, type,"
                " outcome, origin, recorded_by, recorded_at, corrects, request_key) VALUES"
                " (:id, 'A', :code, :day, 'home_visit', :outcome, :origin, :by, :at, :corrects,"
                " :key)"
            ),
            [
                {"id": 1, "code": "s1", "day": date(2025, 6, 3), "outcome": "done",
                 "origin": "import", "by": None, "at": None, "corrects": None, "key": None},
                {"id": 2, "code": "s1", "day": date(2025, 7, 1), "outcome": "refused",
                 "origin": "service", "by": 7, "at": now, "corrects": None, "key": "k-1"},
                {"id": 3, "code": "s1", "day": date(2025, 7, 1), "outcome": "done",
                 "origin": "service", "by": 7, "at": now, "corrects": 2, "key": None},
            ],
        )  # fmt: skip
        connection.execute(
            sa.text(
                "INSERT INTO missing_cases (case_id, person_id, school_id, student_id, kind,"
                " grade_level, last_year, last_term, expected_year, expected_term, opened_on,"
                " status, status_on) VALUES (:id, :person, 'A', :code, 'left', 'M2', 2567, 2,"
                " 2568, 1, :day, 'to_find', :day)"
            ),
            [
                {"id": 4, "person": "p4", "code": "s4", "day": date(2025, 5, 16)},
                {"id": 9, "person": "p9", "code": "s9", "day": date(2025, 5, 16)},
            ],
        )

    def everything() -> dict[str, object]:
        with sqlite3.connect(path) as database:
            return {
                "records": database.execute(
                    "SELECT * FROM interventions ORDER BY intervention_id"
                ).fetchall(),
                "cases": database.execute(
                    "SELECT * FROM missing_cases ORDER BY case_id"
                ).fetchall(),
                "made": sorted(
                    database.execute(
                        "SELECT type, name, sql FROM sqlite_master WHERE type IN"
                        " ('index', 'trigger') AND tbl_name IN ('interventions', 'missing_cases')"
                    ).fetchall()
                ),
            }

    before = everything()
    upgrade(engine)
    assert everything() == before
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM missing_cases WHERE case_id = 9")
        connection.exec_driver_sql("DELETE FROM interventions WHERE intervention_id = 3")
        connection.exec_driver_sql(
            "INSERT INTO interventions (school_id, student_id, date, type) VALUES"
            " ('A', 's2', '2025-08-01', 'home_visit')"
        )
        connection.exec_driver_sql(
            "INSERT INTO missing_cases (person_id, school_id, student_id, kind, grade_level,"
            " last_year, last_term, expected_year, expected_term, opened_on, status,"
            " status_on) VALUES ('p5', 'A', 's5', 'left', 'M2', 2567, 2, 2568, 1,"
            " '2025-05-16', 'to_find', '2025-05-16')"
        )
        numbers = [
            connection.exec_driver_sql("SELECT max(intervention_id) FROM interventions").scalar(),
            connection.exec_driver_sql("SELECT max(case_id) FROM missing_cases").scalar(),
        ]
    assert numbers == [4, 10]
    with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError, match="append-only"):
        connection.exec_driver_sql(
            "UPDATE interventions SET outcome = 'done' WHERE intervention_id = 2"
        )


def test_two_threads_of_a_server_migrating_at_once_both_succeed(tmp_path: Path) -> None:
    """Alembic runs through module-level proxies: two requests that migrated at once (an
    admin's page and an upload's confirm) failed with KeyError 'config', about one try in
    two. Eight threads, four rounds: none fails."""
    from concurrent.futures import ThreadPoolExecutor

    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    with ThreadPoolExecutor(8) as pool:
        for _ in range(4):
            list(pool.map(lambda _: upgrade(engine), range(8)))  # re-raises a thread's error
    engine.dispose()


def test_two_processes_migrating_at_once_both_succeed(tmp_path: Path) -> None:
    """``ews serve --workers 2`` after an update: each worker brings the database up to
    date at start-up, at the same moment. On SQLite both read that the schema was behind,
    and the second made a table the first had just made ("table forms_sent already
    exists"): its worker stopped the server. Here another writer holds the database while
    both start, so that both are at the same point when it lets go."""
    import sqlite3
    import subprocess
    import sys
    import time

    from alembic import command

    from schooldata.db import alembic_config

    path = tmp_path / "ews.db"
    engine = make_engine(f"sqlite:///{path}")
    command.upgrade(alembic_config(engine), "0028")
    with engine.connect() as connection:  # in WAL, as the service keeps it
        connection.exec_driver_sql("SELECT 1")
    engine.dispose()
    child = "\n".join(
        (
            "import sys",
            "from schooldata.db import make_engine, upgrade",
            "upgrade(make_engine(sys.argv[1]))",
        )
    )
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    workers = [
        subprocess.Popen(  # noqa: S603 (this Python, this test's code)
            [sys.executable, "-c", child, f"sqlite:///{path}"], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    time.sleep(8)  # both past their imports, waiting on the database
    holder.execute("COMMIT")
    holder.close()
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], errors
    with make_engine(f"sqlite:///{path}").connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
