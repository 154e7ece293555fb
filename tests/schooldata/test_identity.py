"""A child is a person, not a code: schools' own codes kept apart, one child linked across
schools by the national ID or G code, never by name; history follows the child."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core.settings import Settings
from ews.cli import app as cli
from features.build import features_as_of
from features.sources import Sources
from schooldata.dataset import DatabaseReader, DatasetReader
from schooldata.db import make_engine, read_table
from schooldata.identity import linking_counts
from schooldata.ingest import ingest_directory
from serving import uploads
from serving.accounts import create_user
from tests.conftest import ID_KEY, scratch_settings, thai_id
from training.labels import LabelRules, label

SCHOOLS = ["school_id,name", "A,โรงเรียนเอ", "B,โรงเรียนบี"]
# Both schools number their students 1, 2, 3: different children.
CHILDREN = {
    "A": [("1", "สมชาย", "ใจดี", "110170020001"), ("2", "สมหญิง", "ทองคำ", "110170020002")],
    "B": [("1", "Aung", "Min", "310170020003"), ("2", "กิตติ", "บุญมา", "310170020004")],
}
# Each school's attendance of its own student 1: A's absent, B's present.
MARK = {"A": "absent", "B": "present"}


def _school_directory(root: Path, school: str, shared: bool = False) -> Path:
    """One school's files: in its own folder (no school column in the records), or as a
    shared directory naming the school on every row."""
    folder = root / f"{school}-{'shared' if shared else 'own'}"
    own = folder if shared else folder / "schools" / school
    own.mkdir(parents=True)
    (folder / "schools.csv").write_text("\n".join(SCHOOLS) + "\n")
    students = ["student_id,school_id,given_name,family_name,national_id,sex,birth_date"]
    students += [
        f"{code},{school},{given},{family},{thai_id(stem)},M,2012-01-01"
        for code, given, family, stem in CHILDREN[school]
    ]
    enrollments = ["student_id,academic_year,term,school_id,grade_level,classroom,advisor_id"]
    enrollments += [f"{code},2568,1,{school},M1,M1/1,T1" for code, *_ in CHILDREN[school]]
    column = "school_id," if shared else ""
    value = f"{school}," if shared else ""
    attendance = [f"student_id,{column}date,status"]
    attendance += [f"1,{value}2025-06-0{d},{MARK[school]}" for d in range(2, 7)]
    for name, lines in (
        ("students", students),
        ("enrollments", enrollments),
        ("attendance", attendance),
        ("exits", ["student_id,exit_date,exit_type"]),
    ):
        (own / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return folder


def _kept_apart(engine: sa.Engine) -> None:
    students = read_table(engine, "students").set_index(["school_id", "student_id"])
    assert len(students) == 4
    for school, children in CHILDREN.items():
        for code, given, _, _ in children:
            assert students.loc[(school, code), "given_name"] == given
    assert students["person_id"].nunique() == 4
    enrolments = read_table(engine, "enrollments")
    assert sorted(zip(enrolments["school_id"], enrolments["student_id"], strict=True)) == [
        ("A", "1"),
        ("A", "2"),
        ("B", "1"),
        ("B", "2"),
    ]
    attendance = read_table(engine, "attendance")
    assert attendance.groupby("school_id")["status"].agg(set).to_dict() == {
        "A": {"absent"},
        "B": {"present"},
    }
    assert len(attendance) == 10


@pytest.mark.parametrize("order", [("A", "B"), ("B", "A")])
@pytest.mark.parametrize("shared", [False, True])
def test_two_schools_with_the_same_codes_keep_every_child_loaded_by_the_cli(
    tmp_path: Path, order: tuple[str, str], shared: bool
) -> None:
    db = tmp_path / "ews.db"
    env = {"EWS_DATABASE_URL": f"sqlite:///{db}", "EWS_ID_HASH_KEY": ID_KEY}
    for school in order:
        folder = _school_directory(tmp_path, school, shared)
        result = CliRunner().invoke(
            cli, ["ingest", str(folder), "--rejects-dir", str(tmp_path / "r")], env=env
        )
        assert result.exit_code == 0, result.output
        # No row of either school refused as "a student of another school".
        reports = sorted((tmp_path / "r").glob("*.csv"))
        assert not any(",rejected" in r.read_text(encoding="utf-8") for r in reports), [
            r.read_text(encoding="utf-8") for r in reports
        ]
    _kept_apart(make_engine(env["EWS_DATABASE_URL"]))


def _upload_settings(tmp_path: Path) -> Settings:
    return scratch_settings(
        f"sqlite:///{tmp_path / 'ews.db'}",
        tmp_path / "store",
        upload_dir=tmp_path / "uploads",
        id_hash_key=ID_KEY,
    )


@pytest.mark.parametrize("order", [("A", "B"), ("B", "A")])
def test_two_schools_with_the_same_codes_keep_every_child_loaded_on_the_upload_page(
    tmp_path: Path, order: tuple[str, str]
) -> None:
    settings = _upload_settings(tmp_path)
    engine = make_engine(settings.database_url)
    ingest_directory(_school_directory(tmp_path, "A"), engine, ID_KEY, None)  # the schools
    with engine.begin() as connection:
        for table in ("attendance", "enrollments", "students"):
            connection.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (constant names)
    for school in order:
        officer, _ = create_user(engine, "data_officer", f"เจ้าหน้าที่ {school}", school_id=school)
        own = _school_directory(tmp_path / "upload", school) / "schools" / school
        files = [(f.name, f.read_bytes()) for f in sorted(own.iterdir())]
        staged = uploads.stage(settings, engine, officer, files)
        assert not any(s.rows_rejected for s in staged.report.sources), staged.report.sources
        uploads.confirm(settings, engine, officer, staged.token)
    _kept_apart(engine)


def test_a_shared_file_naming_a_code_two_schools_use_rejects_the_row_and_says_why(
    tmp_path: Path, engine: sa.Engine
) -> None:
    ingest_directory(_school_directory(tmp_path, "A"), engine, ID_KEY, None)
    ingest_directory(_school_directory(tmp_path, "B"), engine, ID_KEY, None)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "attendance.csv").write_text(
        "student_id,date,status\n1,2025-06-09,late\n2,2025-06-09,late\n"
    )
    report = ingest_directory(shared, engine, ID_KEY, tmp_path / "rejects")

    rejects = pd.read_csv(tmp_path / "rejects" / "attendance.csv", dtype=str)
    assert set(rejects["reason"]) == {
        "student code used at more than one school: give the school_id column, or load a"
        " school's own files from a folder schools/<school_id>/"
    }
    assert report.sources[0].rows_loaded == 0
    assert len(read_table(engine, "attendance")) == 10  # nothing of either school changed


def _transition(root: Path, with_ids: bool) -> Path:
    """A P6 child of primary school P1 (code 7) who goes on to M1 at secondary school S1
    (code 104), absent 8 of their last 20 days of P6 and with a GPA of 1.5 there; and a
    classmate who stays at S1 (code 7 there too: another child)."""
    folder = root / f"transition-{with_ids}"
    folder.mkdir()
    child = thai_id("110170020777") if with_ids else ""
    other = thai_id("110170020888") if with_ids else ""
    (folder / "schools.csv").write_text("school_id,name\nP1,ประถม\nS1,มัธยม\n")
    (folder / "students.csv").write_text(
        "student_id,school_id,given_name,national_id,birth_date\n"
        f"7,P1,เด็กชายหนึ่ง,{child},2013-02-01\n"
        f"104,S1,เด็กชายหนึ่ง,{child},2013-02-01\n"
        f"7,S1,เด็กหญิงสอง,{other},2012-02-01\n"
    )
    (folder / "enrollments.csv").write_text(
        "student_id,academic_year,term,school_id,grade_level,classroom,advisor_id\n"
        "7,2567,1,P1,P6,P6/1,T1\n7,2567,2,P1,P6,P6/1,T1\n"
        "104,2568,1,S1,M1,M1/1,T9\n"
        "7,2567,1,S1,M1,M1/2,T8\n7,2567,2,S1,M1,M1/2,T8\n7,2568,1,S1,M2,M2/2,T8\n"
    )
    days = pd.bdate_range("2025-02-17", periods=20)
    marks = ["absent" if i % 5 in (1, 3) else "present" for i in range(20)]
    (folder / "attendance.csv").write_text(
        "student_id,school_id,date,status\n"
        + "".join(f"7,P1,{d.date()},{m}\n" for d, m in zip(days, marks, strict=True))
        + "".join(f"7,S1,{d.date()},present\n" for d in days)
    )
    (folder / "grades.csv").write_text(
        "student_id,school_id,academic_year,term,subject_code,grade,recorded_date\n"
        "7,P1,2567,2,TH,1.5,2025-03-25\n7,P1,2567,2,MA,1.5,2025-03-25\n"
        "7,S1,2567,2,TH,3,2025-03-25\n"
    )
    (folder / "exits.csv").write_text(
        "student_id,school_id,exit_date,exit_type\n7,P1,2025-03-31,graduated\n"
    )
    return folder


FIRST_WEEK_OF_M1 = pd.Timestamp("2025-05-19")


def test_a_p6_child_who_enters_m1_at_another_school_brings_their_history_and_is_no_dropout(
    tmp_path: Path, engine: sa.Engine
) -> None:
    files = _transition(tmp_path, with_ids=True)
    report = ingest_directory(files, engine, ID_KEY, None)
    assert report.linking == {
        "with_id": 3,
        "linked_across_schools": 2,
        "shared_id": 0,
        "without_id": 0,
    }
    sources = Sources.from_database(engine)

    rows = features_as_of(sources, FIRST_WEEK_OF_M1).set_index(["school_id", "student_id"])
    m1 = rows.loc[("S1", "104")]
    assert m1["absent_days_20d"] == 8  # the last 20 days of P6, at the primary school
    assert m1["gpa_last_term"] == 1.5
    assert m1["gpa_previous_school"] == 1.5
    assert m1["entered_school_this_year"] == 1
    assert m1["moved_school_last_year"] == 1
    assert m1["schools_attended"] == 2
    # The classmate with the same code at S1 is someone else: nothing of P1's child.
    classmate = rows.loc[("S1", "7")]
    assert classmate["absent_days_20d"] == 0
    assert classmate["gpa_last_term"] == 3
    assert classmate["entered_school_this_year"] == 0
    # The weekly run reads only what the week needs, from the database or from a Parquet
    # dataset (each record with its child as it is read): the same rows.
    stored = make_engine(f"sqlite:///{tmp_path / 'stored.db'}")
    dataset = tmp_path / "dataset"
    ingest_directory(files, stored, ID_KEY, None, dataset=dataset)
    for source in (engine, DatasetReader(dataset, database=DatabaseReader(stored))):
        weekly = features_as_of(Sources.for_weekly_run(source, FIRST_WEEK_OF_M1), FIRST_WEEK_OF_M1)
        weekly = weekly.set_index(["school_id", "student_id"])
        pd.testing.assert_frame_equal(weekly.sort_index(), rows.sort_index(), check_dtype=False)
        # The child alone, as the API scores them: their records at both schools only.
        alone = Sources.for_students(source, [("S1", "104")])
        # P1's 7, never S1's 7 (the classmate with the same code).
        for records in (alone.attendance, alone.grades):
            pairs = zip(
                records["school_id"].astype(str), records["student_id"].astype(str), strict=True
            )
            assert set(pairs) == {("P1", "7")}
        m1_alone = features_as_of(alone, FIRST_WEEK_OF_M1, [("S1", "104")])
        m1_alone = m1_alone.set_index(["school_id", "student_id"])
        pd.testing.assert_frame_equal(m1_alone, rows.loc[[("S1", "104")]], check_dtype=False)
    # Sources the schools sent, and one nobody did, the dataset's as the database's.
    for reader in (DatabaseReader(engine), DatasetReader(dataset)):
        assert reader.holds("attendance")
        assert not reader.holds("household")

    # The primary school does not count the child who went on as lost at the transition.
    p6 = features_as_of(sources, pd.Timestamp("2025-01-06"))
    labels = label(sources, p6, LabelRules(180))
    assert labels.loc[(p6["school_id"] == "P1").to_numpy(), "label"].tolist() == [0]


def test_without_an_id_the_child_is_not_linked_and_starts_with_no_history(
    tmp_path: Path, engine: sa.Engine
) -> None:
    # The same name and birth date at both schools: never a link without the ID.
    report = ingest_directory(_transition(tmp_path, with_ids=False), engine, ID_KEY, None)
    assert report.linking == {
        "with_id": 0,
        "linked_across_schools": 0,
        "shared_id": 0,
        "without_id": 3,
    }
    students = read_table(engine, "students")
    assert students["person_id"].nunique() == 3
    sources = Sources.from_database(engine)

    rows = features_as_of(sources, FIRST_WEEK_OF_M1).set_index(["school_id", "student_id"])
    m1 = rows.loc[("S1", "104")]
    assert pd.isna(m1["absent_days_20d"]) and pd.isna(m1["gpa_last_term"])  # noqa: PT018
    assert m1["schools_attended"] == 1
    p6 = features_as_of(sources, pd.Timestamp("2025-01-06"))
    labels = label(sources, p6, LabelRules(180))
    mine = (p6["school_id"] == "P1").to_numpy()
    assert labels.loc[mine, "event_kind"].tolist() == ["failed_transition"]


def test_a_later_file_that_brings_the_id_links_the_child_and_one_without_keeps_it(
    tmp_path: Path, engine: sa.Engine
) -> None:
    ingest_directory(_transition(tmp_path, with_ids=False), engine, ID_KEY, None)
    assert linking_counts(read_table(engine, "students"))["linked_across_schools"] == 0

    later = tmp_path / "later"
    later.mkdir()
    child = thai_id("110170020777")
    (later / "students.csv").write_text(
        f"student_id,school_id,national_id\n7,P1,{child}\n104,S1,{child}\n"
    )
    ingest_directory(later, engine, ID_KEY, None)
    students = read_table(engine, "students").set_index(["school_id", "student_id"])
    assert students.loc[("P1", "7"), "person_id"] == students.loc[("S1", "104"), "person_id"]
    assert students.loc[("P1", "7"), "given_name"] == "เด็กชายหนึ่ง"  # the name is kept

    # A file of the same students without the ID column never unlinks them.
    again = tmp_path / "again"
    again.mkdir()
    (again / "students.csv").write_text("student_id,school_id,sex\n7,P1,M\n104,S1,M\n")
    ingest_directory(again, engine, ID_KEY, None)
    kept = read_table(engine, "students").set_index(["school_id", "student_id"])
    assert kept.loc[("P1", "7"), "person_id"] == kept.loc[("S1", "104"), "person_id"]
    assert kept["national_id_hash"].notna().sum() == 2
