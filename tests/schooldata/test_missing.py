"""Every child who did not come back is looked for: a case opens when a child enrolled
last term is enrolled nowhere now (or a P6 or M3 graduate nowhere the next year), and
closes by itself when the child turns up enrolled, here or at another school."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from features.build import features_as_of
from features.sources import Sources
from schooldata.dataset import DatasetReader
from schooldata.db import make_engine
from schooldata.identity import linked_person
from schooldata.ingest import ingest_directory
from schooldata.loads import undo
from schooldata.missing import settled_findings
from schooldata.national_id import hash_national_id
from schooldata.tables import missing_case_notes, missing_cases, student_returns
from serving import translate, uploads
from serving.accounts import create_user
from tests.conftest import ID_KEY, scratch_settings, thai_id
from training.labels import LabelRules, label, label_rules

HEADER = "student_id,academic_year,term,school_id,grade_level,classroom,advisor_id\n"


def _load(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "schools.csv").write_text("school_id,name\nA,โรงเรียนเอ\nB,โรงเรียนบี\n")
    for file, text in files.items():
        (folder / f"{file}.csv").write_text(text)
    return folder


def _send(root: Path, engine: sa.Engine, name: str, files: dict[str, str]) -> None:
    """A school's files (as ``_load``) loaded at once, as its data officer sends them."""
    ingest_directory(_load(root, name, files), engine, ID_KEY, None)


def _students(*rows: tuple[str, str, str]) -> str:
    lines = ["student_id,school_id,given_name,national_id"]
    lines += [f"{code},{school},เด็ก{code},{thai_id(stem)}" for code, school, stem in rows]
    return "\n".join(lines) + "\n"


def _cases(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(missing_cases)).mappings().all()
    return pd.DataFrame(rows, columns=list(missing_cases.c.keys())).sort_values(
        ["school_id", "student_id"]
    )


def _term_one_and_two(tmp_path: Path) -> Path:
    """School A: children 1 and 2 in term 1 of 2567; only 1 is enrolled in term 2, and
    nobody filed an exit for 2."""
    return _load(
        tmp_path,
        "a-terms",
        {
            "students": _students(("1", "A", "110170020001"), ("2", "A", "110170020002")),
            "enrollments": HEADER
            + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n",
            "exits": "student_id,exit_date,exit_type\n",
        },
    )


def test_a_child_missing_from_the_term_2_count_with_no_exit_becomes_a_case(
    tmp_path: Path, engine: sa.Engine
) -> None:
    report = ingest_directory(_term_one_and_two(tmp_path), engine, ID_KEY, None)

    cases = _cases(engine)
    assert cases[["school_id", "student_id", "kind", "status"]].to_dict("records") == [
        {"school_id": "A", "student_id": "2", "kind": "left", "status": "not_followed"}
    ]
    assert (cases["expected_year"].iloc[0], cases["expected_term"].iloc[0]) == (2567, 2)
    assert report.missing_opened == 1


def test_an_exit_that_explains_the_absence_makes_no_case(tmp_path: Path, engine: sa.Engine) -> None:
    folder = _term_one_and_two(tmp_path)
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n2,2024-09-20,transfer\n")
    ingest_directory(folder, engine, ID_KEY, None)

    assert _cases(engine).empty


def test_the_same_child_enrolled_at_another_school_closes_the_case_and_is_no_dropout(
    tmp_path: Path, engine: sa.Engine
) -> None:
    ingest_directory(_term_one_and_two(tmp_path), engine, ID_KEY, None)
    assert _cases(engine)["status"].tolist() == ["not_followed"]

    # School B sends its files later: child 2 of A is its student 40 since term 2.
    _send(
        tmp_path,
        engine,
        "b",
        {
            "students": _students(("40", "B", "110170020002")),
            "enrollments": HEADER + "40,2567,2,B,M2,M2/3,T7\n",
        },
    )

    case = _cases(engine).iloc[0]
    assert (case["status"], case["found_school_id"]) == ("enrolled_elsewhere", "B")
    assert case["closed_on"] is not None
    sources = Sources.from_database(engine)
    rows = features_as_of(sources, pd.Timestamp("2024-07-01"))
    labels = label(sources, rows, label_rules(engine, 180))
    mine = ((rows["school_id"] == "A") & (rows["student_id"] == "2")).to_numpy()
    assert labels.loc[mine, "label"].tolist() == [0]


def test_a_child_found_at_another_school_after_a_term_away_is_a_transfer_not_a_dropout(
    tmp_path: Path, engine: sa.Engine
) -> None:
    folder = _term_one_and_two(tmp_path)
    (folder / "students.csv").write_text(
        _students(
            ("1", "A", "110170020001"), ("2", "A", "110170020002"), ("40", "B", "110170020002")
        )
    )
    (folder / "enrollments.csv").write_text(
        HEADER
        + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n"
        + "1,2568,1,A,M3,M3/1,T1\n40,2568,1,B,M3,M3/1,T7\n"
    )
    ingest_directory(folder, engine, ID_KEY, None)

    case = _cases(engine).iloc[0]
    assert (case["student_id"], case["status"]) == ("2", "enrolled_elsewhere")
    with engine.connect() as connection:
        findings = settled_findings(connection)
    assert [f[1:] for f in findings] == [(2567, 2, "transfer")]
    sources = Sources.from_database(engine)
    rows = features_as_of(sources, pd.Timestamp("2024-07-01"))
    mine = ((rows["school_id"] == "A") & (rows["student_id"] == "2")).to_numpy()
    # Without the worklist the term away reads as leaving; with it, a move.
    assert label(sources, rows, LabelRules(180)).loc[mine, "label"].tolist() == [1]
    assert label(sources, rows, label_rules(engine, 180)).loc[mine, "label"].tolist() == [0]


def test_what_staff_found_settles_the_label(tmp_path: Path, engine: sa.Engine) -> None:
    folder = _term_one_and_two(tmp_path)
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n2,2024-09-20,transfer\n")
    (folder / "enrollments.csv").write_text(
        HEADER + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n"
        "3,2567,1,A,M2,M2/1,T1\n"
    )
    (folder / "students.csv").write_text(
        _students(
            ("1", "A", "110170020001"), ("2", "A", "110170020002"), ("3", "A", "110170020003")
        )
    )
    ingest_directory(folder, engine, ID_KEY, None)
    cases = _cases(engine)
    assert cases["student_id"].tolist() == ["3"]  # 2's transfer explains their absence
    sources = Sources.from_database(engine)
    rows = features_as_of(sources, pd.Timestamp("2024-07-01"))
    mine = ((rows["school_id"] == "A") & (rows["student_id"] == "3")).to_numpy()

    with engine.begin() as connection:
        connection.execute(sa.update(missing_cases).values(status="found_enrolled"))
    assert label(sources, rows, label_rules(engine, 180)).loc[mine, "label"].tolist() == [0]
    with engine.begin() as connection:
        connection.execute(sa.update(missing_cases).values(status="not_found"))
    confirmed = label(sources, rows, label_rules(engine, 180)).loc[mine]
    assert confirmed[["label", "event_kind"]].values.tolist() == [[1, "confirmed_dropout"]]


def test_a_p6_graduate_enrolled_nowhere_the_next_year_becomes_a_case(
    tmp_path: Path, engine: sa.Engine
) -> None:
    folder = _load(
        tmp_path,
        "p6",
        {
            "students": _students(("7", "A", "110170020007"), ("8", "A", "110170020008")),
            "enrollments": HEADER
            + "7,2567,1,A,P6,P6/1,T1\n7,2567,2,A,P6,P6/1,T1\n"
            + "8,2567,1,A,P5,P5/1,T2\n8,2567,2,A,P5,P5/1,T2\n8,2568,1,A,P6,P6/1,T2\n",
            "exits": "student_id,exit_date,exit_type\n7,2025-03-31,graduated\n",
        },
    )
    ingest_directory(folder, engine, ID_KEY, None)

    cases = _cases(engine)
    assert cases[["student_id", "kind", "grade_level", "status"]].to_dict("records") == [
        {"student_id": "7", "kind": "transition", "grade_level": "P6", "status": "not_followed"}
    ]
    assert (cases["expected_year"].iloc[0], cases["expected_term"].iloc[0]) == (2568, 1)


def test_a_p6_graduate_is_looked_for_once_the_schools_teaching_m1_have_sent_the_new_year(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """Primary school A sends its new year in May, secondary school B (whose M1 took A's
    pupils last year) after the count day in June: A's graduates were all "missing" in
    between, a worklist of children who were simply not counted yet."""
    _send(
        tmp_path,
        engine,
        "last-year",
        {
            "students": _students(
                ("7", "A", "110170020007"), ("8", "A", "110170020008"), ("50", "B", "110170020050")
            ),
            "enrollments": HEADER
            + "7,2567,2,A,P6,P6/1,T1\n8,2567,2,A,P6,P6/1,T1\n50,2567,2,B,M1,M1/1,T5\n",
            "exits": "student_id,exit_date,exit_type\n",
        },
    )
    _send(
        tmp_path,
        engine,
        "a-may",
        {
            "students": _students(("1", "A", "110170020101")),
            "enrollments": HEADER + "1,2568,1,A,P1,P1/1,T1\n",
        },
    )

    assert _cases(engine).empty  # B has not sent 2568 term 1: nobody counted A's P6 yet

    # B's new year: 7 is its M1 pupil under B's own code; 8 is enrolled nowhere.
    _send(
        tmp_path,
        engine,
        "b-june",
        {
            "students": _students(("6001", "B", "110170020007")),
            "enrollments": HEADER + "6001,2568,1,B,M1,M1/1,T5\n50,2568,1,B,M2,M2/1,T5\n",
        },
    )

    cases = _cases(engine)
    assert cases[["school_id", "student_id", "kind", "status"]].to_dict("records") == [
        {"school_id": "A", "student_id": "8", "kind": "transition", "status": "not_followed"}
    ]


def test_a_child_whose_school_has_not_sent_the_next_term_is_not_looked_for_yet(
    tmp_path: Path, engine: sa.Engine
) -> None:
    # B has sent term 2, A has not: A's children are not missing from a count not taken.
    folder = _load(
        tmp_path,
        "not-yet",
        {
            "students": _students(("1", "A", "110170020001"), ("9", "B", "110170020009")),
            "enrollments": HEADER + "1,2567,1,A,M2,M2/1,T1\n9,2567,1,B,M2,M2/1,T9\n"
            "9,2567,2,B,M2,M2/1,T9\n",
        },
    )
    ingest_directory(folder, engine, ID_KEY, None)

    assert _cases(engine).empty


def test_a_child_missing_from_a_later_terms_file_becomes_a_case_when_that_file_is_loaded(
    tmp_path: Path, engine: sa.Engine
) -> None:
    first = _load(
        tmp_path,
        "term-1",
        {
            "students": _students(("1", "A", "110170020001"), ("2", "A", "110170020002")),
            "enrollments": HEADER + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n",
        },
    )
    ingest_directory(first, engine, ID_KEY, None)
    assert _cases(engine).empty

    # Term 2's count names child 1 only: child 2 is in no file of this load.
    second = _load(tmp_path, "term-2", {"enrollments": HEADER + "1,2567,2,A,M2,M2/1,T1\n"})
    report = ingest_directory(second, engine, ID_KEY, None)

    assert _cases(engine)["student_id"].tolist() == ["2"]
    assert report.missing_opened == 1


def test_a_child_found_back_at_school_closes_the_case_and_joins_the_returned_children(
    tmp_path: Path, engine: sa.Engine
) -> None:
    folder = _term_one_and_two(tmp_path)
    ingest_directory(folder, engine, ID_KEY, None)
    # Term 1 of the next year: child 2 is on the roll again.
    back = _load(
        tmp_path, "back", {"enrollments": HEADER + "1,2568,1,A,M3,M3/1,T1\n2,2568,1,A,M3,M3/1,T1\n"}
    )
    ingest_directory(back, engine, ID_KEY, None)

    case = _cases(engine).iloc[0]
    assert (case["student_id"], case["status"], case["found_school_id"]) == ("2", "returned", "A")
    with engine.connect() as connection:
        returned = connection.execute(sa.select(student_returns)).mappings().all()
    assert [(r["school_id"], r["student_id"]) for r in returned] == [("A", "2")]


def test_a_load_losing_most_of_a_schools_children_says_so_before_anyone_goes_looking(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A school that gave its students new codes this term, without their national IDs
    (or sent one room's list as the whole school's): every child of last term becomes a
    child to find, and the committee would visit thirty homes of children sitting in
    class. The load says how many, against last term's count, and what to do."""
    last_term = "".join(f"{i},2567,1,A,M2,M2/1,T1\n" for i in range(1, 31))
    this_term = "".join(f"N{i},2567,2,A,M2,M2/1,T1\n" for i in range(1, 31))
    _send(
        tmp_path,
        engine,
        "term-1",
        {
            "students": "student_id,school_id\n" + "".join(f"{i},A\n" for i in range(1, 31)),
            "enrollments": HEADER + last_term,
            "exits": "student_id,exit_date,exit_type\n",
        },
    )

    report = ingest_directory(
        _load(
            tmp_path,
            "renumbered",
            {
                "students": "student_id,school_id\n" + "".join(f"N{i},A\n" for i in range(1, 31)),
                "enrollments": HEADER + this_term,
            },
        ),
        engine,
        ID_KEY,
        None,
    )

    assert report.missing_opened == 30
    (surge,) = report.missing_surges
    assert (surge.school_id, surge.year, surge.term, surge.opened, surge.enrolled) == (
        "A",
        2567,
        1,
        30,
        30,
    )
    assert "30 of the 30 children of term 1/2567" in surge.warning()
    assert "national ID" in surge.warning()


def test_a_childs_enrolment_of_the_same_term_sent_later_means_they_never_left(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A school sends its new term room by room (the upload page invites a file per
    room): the first room's list makes the other rooms' children ones to find until
    theirs comes. Before, their cases then closed as ``returned`` and were counted in the
    ministry's counts as children found and back in school, who had never left."""
    students = _students(*((str(i), "A", f"1101700200{i:02d}") for i in range(1, 4)))
    last_term = HEADER + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/2,T2\n3,2567,1,A,M2,M2/2,T2\n"
    _send(tmp_path, engine, "t1", {"students": students, "enrollments": last_term, "exits": ""})
    _send(tmp_path, engine, "room-1", {"enrollments": HEADER + "1,2567,2,A,M2,M2/1,T1\n"})
    assert set(_cases(engine)["student_id"]) == {"2", "3"}

    _send(
        tmp_path,
        engine,
        "room-2",
        {"enrollments": HEADER + "2,2567,2,A,M2,M2/2,T2\n3,2567,2,A,M2,M2/2,T2\n"},
    )

    assert _cases(engine)["status"].tolist() == ["not_missing", "not_missing"]
    assert _cases(engine)["closed_on"].notna().all()
    # A child back the term after is still one who came back.
    _send(tmp_path, engine, "year-2", {"enrollments": HEADER + "1,2568,1,A,M3,M3/1,T1\n"})
    back = "1,2568,2,A,M3,M3/1,T1\n2,2568,2,A,M3,M3/2,T2\n"  # 2 is back, a term later
    _send(tmp_path, engine, "back", {"enrollments": HEADER + back})
    year_2 = _cases(engine).query("expected_year == 2568").set_index("student_id")["status"]
    assert year_2.to_dict() == {"2": "returned", "3": "not_followed"}


def _students_without_id_of_child_2(stem_of_2: str | None) -> str:
    """School A's students: child 1 with an ID, child 2 with ``stem_of_2``'s (or none)."""
    two = f"2,A,เด็ก2,{thai_id(stem_of_2)}" if stem_of_2 else "2,A,เด็ก2,"
    return (
        f"student_id,school_id,given_name,national_id\n1,A,เด็ก1,{thai_id('110170020001')}\n{two}\n"
    )


def test_a_case_followed_before_the_childs_id_came_is_the_same_case_after(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A school sends its students without some IDs, then with them (the ID is what
    links a child across schools): the child's case, and what staff recorded on it, stay
    one case; before, a second case opened and the first stayed open under a key nobody
    had any more."""
    enrolments = HEADER + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n"
    exits = "student_id,exit_date,exit_type\n"
    files = {"enrollments": enrolments, "exits": exits}
    _send(tmp_path, engine, "no-id", {"students": _students_without_id_of_child_2(None), **files})
    with engine.begin() as connection:
        connection.execute(sa.update(missing_cases).values(status="following", owner_user_id=7))

    _send(
        tmp_path,
        engine,
        "ids",
        {"students": _students_without_id_of_child_2("110170020002"), **files},
    )

    cases = _cases(engine)
    assert cases[["student_id", "status", "owner_user_id"]].to_dict("records") == [
        {"student_id": "2", "status": "following", "owner_user_id": 7}
    ]
    with engine.connect() as connection:
        person = connection.execute(
            sa.text("SELECT person_id FROM students WHERE student_id = '2'")
        ).scalar_one()
    assert cases["person_id"].iloc[0] == person


def test_a_returned_child_whose_id_comes_later_is_loaded_and_stays_returned(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """Child 2 of school A, without an ID, left after term 1 and came back a year later;
    the school then sends its students file with the ID. Before, the load failed (the
    return was stored again under the child's new key beside the old one)."""
    enrolments = HEADER + (
        "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n"
        "1,2568,1,A,M3,M3/1,T1\n2,2568,1,A,M3,M3/1,T1\n"
    )
    files = {"enrollments": enrolments, "exits": "student_id,exit_date,exit_type\n"}
    _send(tmp_path, engine, "no-id", {"students": _students_without_id_of_child_2(None), **files})

    _send(
        tmp_path,
        engine,
        "ids",
        {"students": _students_without_id_of_child_2("110170020002"), **files},
    )

    with engine.connect() as connection:
        returned = connection.execute(sa.select(student_returns)).mappings().all()
        person = connection.execute(
            sa.text("SELECT person_id FROM students WHERE student_id = '2'")
        ).scalar_one()
    assert [(r["student_id"], r["person_id"]) for r in returned] == [("2", person)]
    assert _cases(engine)[["student_id", "status"]].to_dict("records") == [
        {"student_id": "2", "status": "returned"}
    ]


def test_two_cases_of_one_child_left_by_an_earlier_version_become_the_one_staff_followed(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A database where the child's ID came before this was fixed: the case staff
    followed under the old key, and a second one opened under the new key. The next load
    keeps the one staff followed, with its notes, under the key the child has now."""
    enrolments = HEADER + "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n"
    files = {"enrollments": enrolments, "exits": "student_id,exit_date,exit_type\n"}
    _send(tmp_path, engine, "no-id", {"students": _students_without_id_of_child_2(None), **files})
    new_key = linked_person(hash_national_id(thai_id("110170020002"), ID_KEY))
    with engine.begin() as connection:
        followed = connection.execute(sa.select(missing_cases.c.case_id)).scalar_one()
        connection.execute(sa.update(missing_cases).values(status="following", owner_user_id=7))
        connection.execute(
            sa.insert(missing_case_notes).values(
                case_id=followed, author_user_id=7, written_at=datetime(2024, 11, 20), text="x"
            )
        )
        second = dict(connection.execute(sa.select(missing_cases)).mappings().one())
        del second["case_id"]
        second |= {"person_id": new_key, "status": "not_followed"}
        second |= {"owner_user_id": None}
        connection.execute(sa.insert(missing_cases).values(**second))
        connection.execute(
            sa.text("UPDATE students SET person_id = :key WHERE student_id = '2'"), {"key": new_key}
        )

    _send(tmp_path, engine, "again", {"enrollments": enrolments})

    cases = _cases(engine)
    assert cases[["case_id", "person_id", "status", "owner_user_id"]].to_dict("records") == [
        {"case_id": followed, "person_id": new_key, "status": "following", "owner_user_id": 7}
    ]
    with engine.connect() as connection:
        notes = connection.execute(sa.select(missing_case_notes.c.case_id)).scalars().all()
    assert notes == [followed]


def test_children_given_one_id_by_mistake_are_each_looked_for_and_linked_once_corrected(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A national ID filled down a column in Excel: children 1, 2 and 3 of school A carry
    one ID in the same term. An ID is one child, so it cannot be theirs: each is a child
    of their own until it is corrected, and the two of them not enrolled in term 2 are
    looked for (before: the three were one child, enrolled, and nobody was looked for)."""
    enrolments = HEADER + (
        "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n3,2567,1,A,M2,M2/1,T1\n"
        "4,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n4,2567,2,A,M2,M2/1,T1\n"
    )
    files = {"enrollments": enrolments, "exits": "student_id,exit_date,exit_type\n"}
    one = "110170020001"
    filled_down = _students(
        ("1", "A", one), ("2", "A", one), ("3", "A", one), ("4", "A", "110170020004")
    )

    report = ingest_directory(
        _load(tmp_path, "filled", {"students": filled_down, **files}), engine, ID_KEY, None
    )

    assert _cases(engine)["student_id"].tolist() == ["2", "3"]
    assert report.missing_opened == 2
    assert report.linking is not None
    assert report.linking["shared_id"] == 3
    students = next(s for s in report.sources if s.source == "students")
    assert students.rejects[["column", "value", "action"]].to_dict("records") == [
        {"column": "national_id", "value": "1, 2, 3", "action": "not linked"}
    ]
    # The data officer reads why on the upload page, in Thai.
    thai = translate.in_language(str(students.rejects["reason"].iloc[0]), "th")
    assert re.search("[A-Za-z]", thai) is None
    assert "3 คน" in thai
    assert "1/2567" in thai
    with engine.connect() as connection:
        persons = dict(
            connection.execute(sa.text("SELECT student_id, person_id FROM students")).all()
        )
    assert len(set(persons.values())) == 4
    # A file naming its children by ID only (the equity fund's screening) reaches none
    # of them, and says why.
    survey = f"national_id,survey_date,household_size\n{thai_id(one)},2024-07-01,5\n"
    by_id = ingest_directory(_load(tmp_path, "survey", {"household": survey}), engine, ID_KEY, None)
    assert by_id.sources[-1].rejects["reason"].str.startswith(
        "several students of the school have this national ID"
    ).tolist() == [True]
    # A national load into a Parquet dataset keeps them apart the same way.
    dataset = tmp_path / "dataset"
    stored = make_engine(f"sqlite:///{tmp_path / 'stored.db'}")
    ingest_directory(tmp_path / "filled", stored, ID_KEY, None, dataset=dataset)
    written = DatasetReader(dataset).read("students", ["student_id", "person_id"])
    assert written["person_id"].astype(str).nunique() == 4

    corrected = _students(
        ("1", "A", one),
        ("2", "A", "110170020002"),
        ("3", "A", "110170020003"),
        ("4", "A", "110170020004"),
    )
    report = ingest_directory(
        _load(tmp_path, "corrected", {"students": corrected}), engine, ID_KEY, None
    )

    assert report.linking is not None
    assert report.linking["shared_id"] == 0
    with engine.connect() as connection:
        persons = dict(
            connection.execute(sa.text("SELECT student_id, person_id FROM students")).all()
        )
    assert persons["1"] == linked_person(hash_national_id(thai_id(one), ID_KEY))
    assert all(p.startswith("n:") for p in persons.values())
    assert len(set(persons.values())) == 4
    assert _cases(engine)[["student_id", "status"]].to_dict("records") == [
        {"student_id": "2", "status": "not_followed"},
        {"student_id": "3", "status": "not_followed"},
    ]


def test_a_school_numbering_its_students_anew_keeps_each_child_one_child(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """The same ID under an old and a new code of one school, never in the same term, is
    one child renumbered: linked, and not looked for."""
    enrolments = HEADER + "A0,2567,2,A,M2,M2/1,T1\nA1,2567,2,A,M2,M2/1,T1\nB0,2568,1,A,M3,M3/1,T1\n"
    students = _students(
        ("A0", "A", "110170020001"), ("A1", "A", "110170020002"), ("B0", "A", "110170020001")
    )
    files = {"enrollments": enrolments, "exits": "student_id,exit_date,exit_type\n"}

    report = ingest_directory(
        _load(tmp_path, "anew", {"students": students, **files}), engine, ID_KEY, None
    )

    assert _cases(engine)["student_id"].tolist() == ["A1"]
    assert report.linking is not None
    assert report.linking["shared_id"] == 0


def test_a_child_looked_for_is_found_at_another_school_when_their_id_comes(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """School A looks for child 2, sent without an ID; school B enrolled a child with an
    ID in term 2. A's students file with child 2's ID shows they are the same child: the
    case closes as enrolled at B, the staff's work on it kept."""
    enrolments = HEADER + (
        "1,2567,1,A,M2,M2/1,T1\n2,2567,1,A,M2,M2/1,T1\n1,2567,2,A,M2,M2/1,T1\n"
        "B7,2567,2,B,M2,M2/1,T9\n"
    )
    files = {"enrollments": enrolments, "exits": "student_id,exit_date,exit_type\n"}
    at_b = "\nB7,B,เด็กบี," + thai_id("110170020002") + "\n"
    _send(
        tmp_path,
        engine,
        "no-id",
        {"students": _students_without_id_of_child_2(None) + at_b[1:], **files},
    )
    with engine.begin() as connection:
        connection.execute(sa.update(missing_cases).values(status="following", owner_user_id=7))

    _send(tmp_path, engine, "ids", {"students": _students_without_id_of_child_2("110170020002")})

    cases = _cases(engine)
    assert cases[["student_id", "status", "found_school_id", "owner_user_id"]].to_dict(
        "records"
    ) == [
        {
            "student_id": "2",
            "status": "enrolled_elsewhere",
            "found_school_id": "B",
            "owner_user_id": 7,
        }
    ]


def _at_school(school: str, code: str, days: range) -> str:
    """Attendance rows of one student marked present on the school days (Monday to
    Friday) among these days of June 2025."""
    weekdays = [day for day in days if datetime(2025, 6, day).weekday() < 5]
    return "".join(f"{code},{school},2025-06-{day:02d},present\n" for day in weekdays)


ONE, TWO = "110170020001", "110170020002"
ATTENDANCE = "student_id,school_id,date,status\n"


def _a_then_bs_class_list(tmp_path: Path, engine: sa.Engine) -> None:
    """School A's children 1 and 2 in term 1 of 2568, 1 marked present on the school days
    of 2 to 19 June, 2 (who then moved to B, with no exit filed) of 2 to 12 June; then
    B's class list, without attendance, naming its students 40 and 41 by their IDs."""
    _send(
        tmp_path,
        engine,
        "a",
        {
            "students": _students(("1", "A", ONE), ("2", "A", TWO)),
            "enrollments": HEADER + "1,2568,1,A,M2,M2/1,T1\n2,2568,1,A,M2,M2/1,T1\n",
            "attendance": ATTENDANCE
            + _at_school("A", "1", range(2, 20))
            + _at_school("A", "2", range(2, 13)),
            "exits": "student_id,exit_date,exit_type\n",
        },
    )
    _send(
        tmp_path,
        engine,
        "b",
        {
            "students": _students(("40", "B", ONE), ("41", "B", TWO)),
            "enrollments": HEADER + "40,2568,1,B,M2,M2/2,T9\n41,2568,1,B,M2,M2/2,T9\n",
        },
    )


def _listed(engine: sa.Engine, day: str) -> list[tuple[str, str]]:
    """The (school, code) of every student on the weekly list of ``day``: the same from
    every record and from what the weekly run reads."""
    listed, when = [], pd.Timestamp(day)
    for sources in (Sources.from_database(engine), Sources.for_weekly_run(engine, when)):
        rows = features_as_of(sources, when)
        listed.append(sorted(zip(rows["school_id"], rows["student_id"], strict=True)))
    assert listed[0] == listed[1]
    return listed[0]


def test_a_child_on_a_second_schools_class_list_stays_where_they_are_marked_at_school(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """School B's class list names A's child 1 by their ID (a typing slip B has not
    found yet) and A's child 2, who moved to B with nobody filing an exit; B has sent no
    attendance. A child is where they are marked at school: both stay on A's list, which
    marked them (before: both went to B, the school that listed them last, and A's child
    1 was gone from A's list until B's attendance came, or for good if it never does).
    Once B marks child 2 at school after A last did, they are B's."""
    _a_then_bs_class_list(tmp_path, engine)
    assert _listed(engine, "2025-06-20") == [("A", "1"), ("A", "2")]

    _send(
        tmp_path,
        engine,
        "b-week",
        {"attendance": ATTENDANCE + _at_school("B", "41", range(16, 20))},
    )
    assert _listed(engine, "2025-06-20") == [("A", "1"), ("B", "41")]
    # As of a day before B first marked them, A's list still had child 2: no hindsight.
    assert _listed(engine, "2025-06-13") == [("A", "1"), ("A", "2")]


@pytest.mark.parametrize("national", [False, True], ids=["database", "dataset"])
def test_a_child_who_moved_in_the_term_and_then_left_is_looked_for_by_the_school_they_were_last_at(
    tmp_path: Path, engine: sa.Engine, national: bool
) -> None:
    """Child 2 moved from B to A in term 1 with no exit filed (marked at B on 2 to 12
    June, at A from the 16th: one child, enrolled at both), and is enrolled nowhere in
    term 2. A, where they were last at school, looks for them (before: B, whose code sorts
    after A's, though the child had left it for A). The same where the days are in a
    Parquet dataset (a national installation), not the database."""
    dataset = tmp_path / "dataset" if national else None

    def send(name: str, files: dict[str, str]) -> None:
        ingest_directory(_load(tmp_path, name, files), engine, ID_KEY, None, dataset=dataset)

    send(
        "b",
        {
            "students": _students(("2", "B", TWO), ("5", "B", "110170020005")),
            "enrollments": HEADER + "2,2568,1,B,M2,M2/2,T9\n5,2568,1,B,M2,M2/2,T9\n",
            "attendance": ATTENDANCE + _at_school("B", "2", range(2, 13)),
            "exits": "student_id,exit_date,exit_type\n",
        },
    )
    send(
        "a",
        {
            "students": _students(("20", "A", TWO), ("1", "A", ONE)),
            "enrollments": HEADER + "20,2568,1,A,M2,M2/1,T1\n1,2568,1,A,M2,M2/1,T1\n",
            "attendance": ATTENDANCE + _at_school("A", "20", range(16, 30)),
            "exits": "student_id,exit_date,exit_type\n",
        },
    )
    if not national:
        assert _listed(engine, "2025-06-27") == [("A", "1"), ("A", "20"), ("B", "5")]
    # Term 2: both schools send their class lists; the child is on neither.
    send("b-2", {"enrollments": HEADER + "5,2568,2,B,M2,M2/2,T9\n"})
    send("a-2", {"enrollments": HEADER + "1,2568,2,A,M2,M2/1,T1\n"})

    cases = _cases(engine)
    assert cases[["school_id", "student_id", "last_term"]].to_dict("records") == [
        {"school_id": "A", "student_id": "20", "last_term": 1}
    ]


def test_one_id_at_two_schools_on_the_same_days_is_two_children_each_on_their_list(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """School B gives its student 40 the ID of school A's child 1 (a brother's, a typing
    slip that passes the check digit). Both are enrolled in term 1 and marked at school on
    the same days: a child is at one school on a day, so they are two children, each on
    their own school's list, and neither is linked by the ID until it is corrected
    (before: one child, A's child gone from A's list, with B's attendance for theirs).
    Child 2, who moved from A to B in the term with nobody filing an exit (marked at A
    until they left, at B after), stays one child, B's."""
    # B's class list first, its attendance a week later: only then can the load tell.
    _a_then_bs_class_list(tmp_path, engine)
    week = _load(
        tmp_path,
        "b-week",
        {
            "attendance": ATTENDANCE
            + _at_school("B", "40", range(2, 20))
            + _at_school("B", "41", range(16, 20))
        },
    )
    # The upload page's preview, which writes nothing, says it before the officer confirms.
    preview = ingest_directory(week, engine, ID_KEY, None, dry_run=True)
    assert preview.sources[-1].rejects["value"].tolist() == ["40"]
    report = ingest_directory(week, engine, ID_KEY, None)

    rows = features_as_of(Sources.from_database(engine), pd.Timestamp("2025-06-20"))
    listed = sorted(zip(rows["school_id"], rows["student_id"], strict=True))
    assert listed == [("A", "1"), ("B", "40"), ("B", "41")]
    with engine.connect() as connection:
        persons = dict(
            connection.execute(
                sa.text("SELECT school_id || '/' || student_id, person_id FROM students")
            ).all()
        )
    assert persons["A/1"] != persons["B/40"]
    moved = linked_person(hash_national_id(thai_id(TWO), ID_KEY))
    assert persons["A/2"] == persons["B/41"] == moved
    # A's child has their own attendance only: 14 school days marked, none absent.
    mine = rows[(rows["school_id"] == "A").to_numpy()].iloc[0]
    assert (mine["school_days_20d"], mine["absent_days_20d"]) == (14, 0)
    assert report.linking is not None
    assert report.linking["shared_id"] == 2
    assert report.sources[-1].rejects[["column", "value", "action"]].to_dict("records") == [
        {"column": "national_id", "value": "40", "action": "not linked"}
    ]
    reason = str(report.sources[-1].rejects["reason"].iloc[0])
    assert "another school" in reason
    thai = translate.in_language(reason, "th")
    assert re.search("[A-Za-z]", thai) is None

    # B corrects the ID of its student 40: each child is linked by their own again.
    _send(tmp_path, engine, "b-fixed", {"students": _students(("40", "B", "310170020040"))})
    with engine.connect() as connection:
        persons = dict(
            connection.execute(
                sa.text("SELECT school_id || '/' || student_id, person_id FROM students")
            ).all()
        )
    assert persons["A/1"] == linked_person(hash_national_id(thai_id(ONE), ID_KEY))
    assert persons["B/40"] == linked_person(hash_national_id(thai_id("310170020040"), ID_KEY))


def test_undoing_the_attendance_that_set_two_children_apart_links_them_again(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """B's week of attendance marks its student 40 at school on A's child 1's days: two
    children. B's officer undoes that upload as a wrong one (another class's register):
    its days are gone, so nothing says they are two, and the ID links them again, as
    loading the records left afresh does. Before, they stayed apart for good."""
    _a_then_bs_class_list(tmp_path, engine)
    week = _load(
        tmp_path, "b-week", {"attendance": ATTENDANCE + _at_school("B", "40", range(2, 20))}
    )
    loaded = ingest_directory(week, engine, ID_KEY, None, schools=frozenset({"B"}), by=7)

    def persons() -> dict[str, str]:
        with engine.connect() as connection:
            return dict(
                connection.execute(
                    sa.text("SELECT school_id || '/' || student_id, person_id FROM students")
                ).all()
            )

    assert persons()["A/1"] != persons()["B/40"]
    assert loaded.load_id is not None
    undo(engine, "B", loaded.load_id, by=7)

    one = linked_person(hash_national_id(thai_id(ONE), ID_KEY))
    assert persons()["A/1"] == persons()["B/40"] == one


def test_a_national_load_into_a_dataset_keeps_two_children_given_one_id_apart(
    tmp_path: Path,
) -> None:
    """The same two children of two schools, their records loaded into a Parquet dataset
    (whose attendance the database does not keep), school by school: the second school's
    load reads the first's days from the dataset, and the dataset and the database keep
    the two apart, also after a later load of the students without any attendance."""
    one = "110170020001"
    stored = make_engine(f"sqlite:///{tmp_path / 'stored.db'}")
    dataset = tmp_path / "dataset"
    attendance = "student_id,school_id,date,status\n"
    for school, code in (("A", "1"), ("B", "40")):
        folder = _load(
            tmp_path,
            school,
            {
                "students": _students((code, school, one)),
                "enrollments": HEADER + f"{code},2568,1,{school},M2,M2/1,T1\n",
                "attendance": attendance + _at_school(school, code, range(2, 20)),
                "exits": "student_id,exit_date,exit_type\n",
            },
        )
        if school == "B":  # the preview reads A's days from the dataset too
            preview = ingest_directory(folder, stored, ID_KEY, None, dataset=dataset, dry_run=True)
            students = next(s for s in preview.sources if s.source == "students")
            assert students.rejects["value"].tolist() == ["40"]
        ingest_directory(folder, stored, ID_KEY, None, dataset=dataset)
    again = _load(tmp_path, "again", {"students": _students(("40", "B", one))})
    for step in ("loaded", "loaded again"):
        written = DatasetReader(dataset).read("students", ["school_id", "student_id", "person_id"])
        keys = dict(
            zip(written["school_id"].astype(str), written["person_id"].astype(str), strict=True)
        )
        with stored.connect() as connection:
            kept = dict(
                connection.execute(sa.text("SELECT school_id, person_id FROM students")).all()
            )
        assert keys == kept == {"A": "s:A:1", "B": "s:B:40"}, step
        ingest_directory(again, stored, ID_KEY, None, dataset=dataset)


def test_the_upload_preview_of_an_installation_with_a_dataset_reads_its_days(
    tmp_path: Path,
) -> None:
    """With a Parquet dataset the database keeps no attendance: the upload page's
    preview of school B's files reads school A's days from the dataset, as the load does
    (before: it read the database's, found nothing, and the load then said otherwise)."""
    one = "110170020001"
    settings = scratch_settings(
        f"sqlite:///{tmp_path / 'ews.db'}",
        tmp_path,
        id_hash_key=ID_KEY,
        dataset_path=tmp_path / "dataset",
        upload_dir=tmp_path / "uploads",
    )
    engine = make_engine(settings.database_url)
    attendance = "student_id,school_id,date,status\n"
    files = {}
    for school, code in (("A", "1"), ("B", "40")):
        files[school] = {
            "students": _students((code, school, one)),
            "enrollments": HEADER + f"{code},2568,1,{school},M2,M2/1,T1\n",
            "attendance": attendance + _at_school(school, code, range(2, 20)),
            "exits": "student_id,exit_date,exit_type\n",
        }
    ingest_directory(
        _load(tmp_path, "A", files["A"]), engine, ID_KEY, None, dataset=settings.dataset_path
    )
    officer, _ = create_user(engine, "data_officer", "เจ้าหน้าที่", school_id="B", username="officer-b")

    staged = uploads.stage(
        settings,
        engine,
        officer,
        [(f"{name}.csv", text.encode()) for name, text in files["B"].items()],
    )

    rejects = pd.concat([s.rejects for s in staged.report.sources], ignore_index=True)
    assert rejects[["value", "action"]].to_dict("records") == [
        {"value": "40", "action": "not linked"}
    ]
