"""A school's wrong upload is undone: its records are as they were, nobody else's moved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from schooldata.db import read_table
from schooldata.ingest import ingest_directory
from schooldata.loads import CannotUndo, last_load, undo
from schooldata.tables import ORIGIN_SERVICE, TABLES, load_snapshots, missing_cases
from tests.conftest import ID_KEY, kept_last_actions, record_staff_visit

S1 = frozenset({"S1"})


def _everything(engine: sa.Engine) -> dict[str, pd.DataFrame]:
    frames = {}
    for name in ("students", "enrollments", "exits", "attendance"):
        frame = read_table(engine, name)
        frames[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    with engine.connect() as connection:
        frames["open cases"] = pd.DataFrame(
            connection.execute(
                sa.select(missing_cases.c.person_id, missing_cases.c.status).where(
                    missing_cases.c.closed_on.is_(None)
                )
            ).all()
        )
    return frames


def _wrong_upload(write_csv: Callable[..., Path]) -> Path:
    """S1's data officer sends the wrong files: an exits file of a child who has not left,
    last term's class list moving a child to another room, a child of another school's
    list, and a register."""
    write_csv(
        "exits",
        ["student_id,exit_date,exit_type,reason_code", "A1,2025-07-01,dropout,1"],
        folder="wrong",
    )
    write_csv(
        "students",
        [
            "student_id,given_name,family_name,sex,birth_date,nationality,disability",
            "A2,สมหญิง,ทองคำ,F,2011-07-15,TH,none",
            "A9,มานะ,ใจดี,M,2012-01-01,TH,none",
        ],
        folder="wrong",
    )
    write_csv(
        "enrollments",
        [
            "student_id,academic_year,term,grade_level,classroom,advisor_id,snapshot_date",
            "A2,2568,1,P5,P5/9,T7,2025-06-10",
            "A9,2568,1,P6,P6/1,T1,2025-06-10",
        ],
        folder="wrong",
    )
    return write_csv(
        "attendance", ["student_id,date,status", "A1,2025-06-11,absent"], folder="wrong"
    )


def test_a_schools_wrong_upload_is_undone_and_its_records_are_as_they_were(
    base_directory: Path, write_csv: Callable[..., Path], engine: sa.Engine
) -> None:
    write_csv(
        "attendance",
        ["student_id,school_id,date,status"]
        + [f"{c},S1,2025-06-{d},present" for c in ("A1", "A2") for d in ("09", "10", "11")],
    )
    ingest_directory(base_directory, engine, ID_KEY, None)
    before = _everything(engine)
    wrong = _wrong_upload(write_csv)

    loaded = ingest_directory(wrong, engine, ID_KEY, None, schools=S1, by=7)

    assert loaded.load_id is not None
    assert read_table(engine, "exits")["student_id"].tolist() == ["A1"]
    offered = last_load(engine, "S1")
    assert offered is not None
    assert offered.undoable
    assert offered.loaded_by == 7
    assert "exits: 1" in offered.summary
    assert last_load(engine, "S2") is None
    with engine.connect() as connection:
        kept = dict(
            connection.execute(
                sa.select(load_snapshots.c.table_name, load_snapshots.c.row_count)
            ).all()
        )
    # A register of one day keeps that day's rows, not the school's every day.
    assert kept == {"attendance": 2, "enrollments": 2, "exits": 0, "students": 2}

    undone = undo(engine, "S1", loaded.load_id, by=7)

    after = _everything(engine)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)
    assert undone.tables["students"] == (3, 2)  # S1 had two students, the upload a third
    assert undone.tables["exits"] == (1, 0)
    assert last_load(engine, "S1") is None  # nothing more to undo
    with pytest.raises(CannotUndo, match="this upload was undone already"):
        undo(engine, "S1", loaded.load_id, by=7)


def test_only_the_latest_upload_is_undone_and_never_over_a_later_load(
    base_directory: Path, write_csv: Callable[..., Path], engine: sa.Engine
) -> None:
    ingest_directory(base_directory, engine, ID_KEY, None)
    wrong = _wrong_upload(write_csv)
    first = ingest_directory(wrong, engine, ID_KEY, None, schools=S1, by=7)
    after_first = _everything(engine)
    second = ingest_directory(wrong, engine, ID_KEY, None, schools=S1, by=7)

    with pytest.raises(CannotUndo, match="latest upload"):
        undo(engine, "S1", first.load_id or 0, by=7)
    assert second.load_id is not None
    undo(engine, "S1", second.load_id, by=7)  # back to the state after the first
    for name, frame in after_first.items():
        pd.testing.assert_frame_equal(_everything(engine)[name], frame, obj=name)

    # The command line loads S1's records since the next upload: undoing would lose them.
    third = ingest_directory(wrong, engine, ID_KEY, None, schools=S1, by=7)
    ingest_directory(base_directory, engine, ID_KEY, None)
    offered = last_load(engine, "S1")
    assert offered is not None
    assert not offered.undoable
    with pytest.raises(CannotUndo, match="command line"):
        undo(engine, "S1", third.load_id or 0, by=7)


def test_an_undo_never_leaves_a_visit_without_its_child(
    base_directory: Path, write_csv: Callable[..., Path], engine: sa.Engine
) -> None:
    ingest_directory(base_directory, engine, ID_KEY, None)
    loaded = ingest_directory(_wrong_upload(write_csv), engine, ID_KEY, None, schools=S1, by=7)
    record_staff_visit(engine, "A9", pd.Timestamp("2025-06-12").date())

    with pytest.raises(CannotUndo, match="1 children this upload added have visits"):
        undo(engine, "S1", loaded.load_id or 0, by=7)
    assert "A9" in set(read_table(engine, "students")["student_id"])  # nothing changed


def test_an_undo_never_puts_back_what_the_committee_set_on_the_schools_row(
    base_directory: Path, write_csv: Callable[..., Path], engine: sa.Engine
) -> None:
    ingest_directory(base_directory, engine, ID_KEY, None)
    write_csv(
        "schools",
        ["school_id,name,affiliation,area,home_visit_capacity", "S1,โรงเรียนบ้านหนึ่ง,OBEC,rural,5"],
        folder="own",
    )
    own = write_csv(
        "exits", ["student_id,exit_date,exit_type", "A2,2025-07-01,transfer"], "utf-8", "own"
    )
    loaded = ingest_directory(own, engine, ID_KEY, None, schools=S1, by=7)
    schools = TABLES["schools"]
    with engine.begin() as connection:  # the committee sets its capacity on its page
        connection.execute(
            sa.update(schools).where(schools.c.school_id == "S1").values(home_visit_capacity=9)
        )

    undone = undo(engine, "S1", loaded.load_id or 0, by=7)

    assert set(undone.tables) == {"exits"}
    assert read_table(engine, "schools").set_index("school_id")["home_visit_capacity"]["S1"] == 9
    assert read_table(engine, "exits").empty


def test_no_load_undo_or_statement_rewrites_a_visit_the_staff_recorded(
    base_directory: Path, engine: sa.Engine
) -> None:
    """The database itself refuses (migration 0024), whatever the role."""
    ingest_directory(base_directory, engine, ID_KEY, None)
    record_staff_visit(engine, "A1", pd.Timestamp("2025-06-12").date(), "done")
    interventions = TABLES["interventions"]
    staff = interventions.c.origin == ORIGIN_SERVICE
    for statement in (
        sa.update(interventions).where(staff).values(outcome="refused"),
        sa.delete(interventions).where(staff),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(statement)
    assert read_table(engine, "interventions")["outcome"].tolist() == ["done"]


def test_each_students_last_action_follows_a_load_of_help_and_its_undo(
    base_directory: Path, write_csv: Callable[..., Path], engine: sa.Engine
) -> None:
    """The actions pages read each student's last action kept beside the records of
    help: a load of a school's help, an upload of more and its undo keep it in step."""
    from datetime import date

    write_csv(
        "interventions",
        [
            "student_id,school_id,date,type,outcome",
            "A1,S1,2025-08-01,home_visit,done",
            "A1,S1,2025-06-20,counselling,done",
            "A3,S2,2025-08-03,scholarship_referral,done",
        ],
    )
    ingest_directory(base_directory, engine, ID_KEY, None)
    assert kept_last_actions(engine) == {
        ("S1", "A1"): date(2025, 8, 1),
        ("S2", "A3"): date(2025, 8, 3),
    }

    more = write_csv(
        "interventions",
        ["student_id,date,type,outcome", "A1,2025-09-01,home_visit,", "A2,2025-07-02,tutoring,"],
        folder="more",
    )
    loaded = ingest_directory(more, engine, ID_KEY, None, schools=S1, by=7)
    assert loaded.load_id is not None
    assert kept_last_actions(engine) == {
        ("S1", "A1"): date(2025, 9, 1),
        ("S1", "A2"): date(2025, 7, 2),
        ("S2", "A3"): date(2025, 8, 3),
    }

    undo(engine, "S1", loaded.load_id, by=7)
    assert kept_last_actions(engine) == {
        ("S1", "A1"): date(2025, 8, 1),
        ("S2", "A3"): date(2025, 8, 3),
    }
