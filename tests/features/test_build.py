"""Feature rows: as-of correctness, one pass equals per date, missing sources stay missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import (
    build_features,
    feature_ids,
    features_as_of,
    features_for_dates,
    population,
)
from features.catalog import catalog
from features.school_context import school_year_counts
from features.sources import WEEKLY_COLUMNS, WHOLE_HISTORY, Sources
from schooldata.calendar import thai_default_term
from schooldata.contract import SOURCES_BY_NAME
from schooldata.dataset import DatabaseReader
from schooldata.db import make_engine, read_table
from schooldata.ingest import ingest_directory
from schooldata.tables import TABLES
from schooldata.validate import HAPPENED_ON, parse_dates
from tests.conftest import ID_KEY

AS_OF = pd.Timestamp("2024-08-05")


def _cut(directory: Path, out: Path, day: pd.Timestamp) -> Path:
    """Copy a data directory keeping only records dated on or before ``day``."""
    out.mkdir(parents=True)
    for name in SOURCES_BY_NAME:
        path = directory / f"{name}.csv"
        encoding = "cp874" if name == "screenings" else "utf-8-sig"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        if name in HAPPENED_ON:  # the column that dates each source's records
            frame = frame[parse_dates(frame[HAPPENED_ON[name]]) <= day]
        if name == "enrollments":
            starts = [
                pd.Timestamp(thai_default_term(int(y), int(t))[0])
                for y, t in zip(frame["academic_year"], frame["term"], strict=True)
            ]
            frame = frame[[s <= day for s in starts]]
        frame.to_csv(out / f"{name}.csv", index=False, encoding=encoding)
    return out


def test_appending_later_records_never_changes_a_feature_row(
    synthetic_directory: Path, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    ingest_directory(
        _cut(synthetic_directory, tmp_path / "cut", AS_OF), engine, ID_KEY, tmp_path / "r"
    )
    before = features_as_of(Sources.from_database(engine), AS_OF)
    # Append every record dated after it: attendance, grades, surveys, screenings, exits...
    ingest_directory(synthetic_directory, engine, ID_KEY, tmp_path / "r")
    after = features_as_of(Sources.from_database(engine), AS_OF)

    assert len(before) > 300
    pd.testing.assert_frame_equal(before, after)


def test_one_pass_over_many_dates_equals_computing_each_date_from_scratch(
    synthetic_sources: Sources,
) -> None:
    dates = pd.DatetimeIndex(["2023-06-05", "2023-11-13", "2024-01-08", "2024-08-05", "2025-02-03"])
    fast = features_for_dates(synthetic_sources, dates)
    slow = pd.concat([features_as_of(synthetic_sources, d) for d in dates], ignore_index=True)

    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=0, atol=1e-12)


def test_missing_optional_sources_give_missing_features_not_zeros(
    synthetic_sources: Sources,
) -> None:
    required_only = replace(
        synthetic_sources,
        attendance=None,
        grades=None,
        assessments=None,
        household=None,
        screenings=None,
        interventions=None,
        schools=None,
    )
    queries = population(required_only, [AS_OF])
    rows = build_features(required_only, queries)

    for column in (
        "absence_rate_20d",
        "gpa_last_term",
        "coursework_missing_28d",
        "income_per_person",
        "sdq_total",
        "interventions_90d",
    ):
        assert rows[column].isna().all(), column
    assert rows["over_age_years"].notna().all()


def test_population_excludes_students_who_left_this_term(synthetic_sources: Sources) -> None:
    rows = population(synthetic_sources, [AS_OF])
    exits = synthetic_sources.exits
    left = exits[(exits["exit_date"] <= AS_OF) & (exits["exit_date"] >= pd.Timestamp("2024-05-16"))]

    students = set(zip(rows["school_id"], rows["student_id"], strict=True))
    assert not set(zip(left["school_id"], left["student_id"], strict=True)) & students
    assert len(students) == len(rows)
    assert rows["person_id"].is_unique  # a child is one row, at one school


def test_every_feature_has_a_complete_catalog_entry() -> None:
    entries = catalog()

    assert set(feature_ids()) == set(entries)
    for feature_id in feature_ids():
        entry = entries[feature_id]
        for text in (
            entry.name_en,
            entry.name_th,
            entry.description,
            entry.unit,
            entry.reason_en,
            entry.reason_th,
        ):
            assert text.strip(), feature_id


def test_reasons_state_the_students_own_values() -> None:
    row = dict.fromkeys(feature_ids(), np.nan) | {"absent_days_20d": 9.0, "school_days_20d": 20.0}
    spec = catalog()["absent_days_20d"]

    assert spec.reason(row, "th") == "ขาดเรียน 9 จาก 20 วันเรียนล่าสุด"
    assert spec.reason(row, "en") == "absent 9 of the last 20 school days"
    assert catalog()["gpa_last_term"].reason(row, "en") == "GPA last term: not recorded"


def test_protected_attributes_are_flagged_sensitive_and_not_model_inputs() -> None:
    protected = {k for k, v in catalog().items() if v.sensitive}

    assert protected == {"sex_female", "nationality_not_thai", "has_disability"}
    assert not any(catalog()[k].model_input or catalog()[k].actionable for k in protected)


def test_the_weekly_run_window_gives_the_same_rows_as_the_full_read(synthetic_engine) -> None:
    full = Sources.from_database(synthetic_engine)
    for day in ("2023-06-05", "2024-01-08", "2024-05-20", "2025-03-10"):
        windowed = Sources.for_weekly_run(synthetic_engine, pd.Timestamp(day))
        expected = features_as_of(full, pd.Timestamp(day))

        if day == "2025-03-10":  # two years in: most of the history stays unread
            assert len(windowed.attendance) < 0.4 * len(full.attendance)
        pd.testing.assert_frame_equal(
            features_as_of(windowed, pd.Timestamp(day)), expected, obj=day
        )


def test_the_weekly_run_reads_the_enrolled_students_records_and_the_features_columns(
    synthetic_engine,
) -> None:
    reads: dict[str, tuple[list[str] | None, set[tuple[str, str]] | None]] = {}

    class Recording(DatabaseReader):
        def read(  # type: ignore[no-untyped-def]
            self, name, columns=None, student_ids=None, since=None, until=None, students=None
        ):
            pairs = None if students is None else set(_pairs(students))
            reads.setdefault(name, (columns, pairs))
            return super().read(
                name, columns, student_ids=student_ids, since=since, until=until, students=students
            )

    day = pd.Timestamp("2025-03-10")
    sources = Sources.for_weekly_run(Recording(synthetic_engine), day)

    # Every source the features use; the schools' names and areas are for people.
    assert set(reads) == set(TABLES) - {"schools"}
    enrolled = population(sources.known_on(day), [day])
    # The children enrolled that day, at every school they were at (their codes there).
    people = synthetic_sources_people(synthetic_engine)
    scored = set(_pairs(people[people["person_id"].isin(set(enrolled["person_id"]))]))
    assert set(_pairs(enrolled)) <= scored
    # Those children's (those who left this term too), nobody else's.
    theirs = set(_pairs(sources.students))
    assert scored <= theirs
    left = set(people.loc[people["person_id"].isin(set(sources.students["person_id"]))].index)
    assert len(left) == len(theirs)
    for name in WHOLE_HISTORY[1:]:
        columns, students = reads[name]
        assert columns == WEEKLY_COLUMNS.get(name)
        assert students == theirs
        assert set(_pairs(getattr(sources, name))) <= theirs
    assert reads["attendance"][1] is None  # the window is read for everyone...
    assert set(_pairs(sources.attendance)) <= theirs  # ...and only theirs kept
    assert reads["screenings"][0] is not None
    assert "sdq_peer" not in reads["screenings"][0]


def test_a_childs_own_sources_give_their_row_of_the_whole_read(synthetic_engine) -> None:
    # What the API scores a child from: their records only, found by school and code.
    day = pd.Timestamp("2025-03-10")
    whole = features_as_of(Sources.from_database(synthetic_engine), day)
    helped = set(_pairs(read_table(synthetic_engine, "interventions")))
    people = synthetic_sources_people(synthetic_engine)
    shared = set(people.loc[people.duplicated("student_id", keep=False), "student_id"])
    # A child never helped, whose code another school uses for another child.
    child = next(
        (school, code)
        for school, code in _pairs(whole)
        if (school, code) not in helped and code in shared
    )

    sources = Sources.for_students(synthetic_engine, [child])
    row = features_as_of(sources, day, [child])

    person = people.loc[[pair == child for pair in _pairs(people)], "person_id"].item()
    theirs = set(_pairs(people[people["person_id"] == person]))
    assert child in set(_pairs(sources.attendance)) <= theirs  # not the other school's child
    assert sources.interventions is not None
    assert sources.interventions.empty
    assert row["interventions_90d"].tolist() == [0.0]  # no help is none, not unknown
    expected = whole[[pair == child for pair in _pairs(whole)]]
    pd.testing.assert_frame_equal(row.reset_index(drop=True), expected.reset_index(drop=True))


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["school_id"].astype(str), frame["student_id"].astype(str), strict=True))


def synthetic_sources_people(engine) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return read_table(engine, "students", columns=["school_id", "student_id", "person_id"])


def test_unsure_students_are_read_further_back_a_season_then_a_year_then_whole(
    synthetic_engine,
) -> None:
    reads: list[tuple[date | None, date | None, list[tuple[str, str]] | None]] = []

    class Recording(DatabaseReader):
        def read(  # type: ignore[no-untyped-def]
            self, name, columns=None, student_ids=None, since=None, until=None, students=None
        ):
            if name == "attendance":
                pairs = None if students is None else _pairs(students)
                reads.append((since and since[1], until and until[1], pairs))
            return super().read(
                name, columns, student_ids=student_ids, since=since, until=until, students=students
            )

    # Two years in, a season back settles every student the window leaves unsure.
    Sources.for_weekly_run(Recording(synthetic_engine), pd.Timestamp("2025-03-10"))
    (start, _, everyone), (season, before, unsure) = reads
    assert everyone is None
    assert unsure
    assert (before, season) == (start, start - timedelta(days=90))

    # In the data's first year most students have no earlier record: every step is taken,
    # each for the students still unsure, each before what was read.
    reads.clear()
    Sources.for_weekly_run(Recording(synthetic_engine), pd.Timestamp("2023-06-05"))
    start = reads[0][0]
    assert [(since, until) for since, until, _ in reads[1:]] == [
        (start - timedelta(days=90), start),
        (start - timedelta(days=365), start - timedelta(days=90)),
        (None, start - timedelta(days=365)),
    ]
    assert all(set(later[2]) <= set(earlier[2]) for earlier, later in pairwise(reads[1:]))


def test_a_grade_without_a_recorded_date_is_known_two_weeks_after_its_term_ends() -> None:
    # S1 ends its first term of 2567 later than the default (10 October 2024); B's school
    # has no calendar of its own, so every school's calendar dates B's grade.
    calendar = pd.DataFrame(
        {
            "school_id": ["S1"],
            "academic_year": [2567],
            "term": [1],
            "start_date": [pd.Timestamp("2024-05-20")],
            "end_date": [pd.Timestamp("2024-10-20")],
        }
    )
    enrollments = pd.DataFrame(
        {
            "student_id": ["A"],
            "academic_year": [2567],
            "term": [1],
            "school_id": ["S1"],
            "grade_level": ["M1"],
            "classroom": ["1/1"],
            "advisor_id": ["T1"],
        }
    )
    # B is a student of S2, whose calendar is every school's.
    grades = pd.DataFrame(
        {
            "school_id": ["S1", "S1", "S2"],
            "student_id": ["A", "A", "B"],
            "academic_year": [2567] * 3,
            "term": [1] * 3,
            "subject_code": ["TH", "MA", "TH"],
            "credits": [1.0] * 3,
            "grade": ["3"] * 3,
            "recorded_date": pd.to_datetime(["2024-09-30", None, None]).astype("datetime64[s]"),
        }
    )
    frames = {"students": None, "exits": None, "calendar": calendar, "grades": grades}

    known = Sources.from_frames({**frames, "enrollments": enrollments}).grades
    assert list(known["known_date"]) == [
        pd.Timestamp("2024-09-30"),  # as recorded
        pd.Timestamp("2024-11-03"),  # S1's term end and two weeks
        pd.Timestamp("2024-10-24"),  # the default term end and two weeks
    ]
    # Without a recorded date at all, every grade is dated by its term's end.
    undated = grades.drop(columns="recorded_date")
    known = Sources.from_frames({**frames, "grades": undated, "enrollments": enrollments}).grades
    assert list(known["known_date"]) == [pd.Timestamp("2024-11-03")] * 2 + [
        pd.Timestamp("2024-10-24")
    ]


def test_a_date_before_any_record_gives_no_row_and_every_column(
    synthetic_sources: Sources,
) -> None:
    """Nothing is known yet on a date before the first term: no student, no error."""
    before = pd.Timestamp(synthetic_sources.enrollments["term_start"].min()) - pd.Timedelta(days=7)

    rows = features_as_of(synthetic_sources, before)

    assert rows.empty
    assert set(feature_ids()) <= set(rows.columns)


def _entries() -> Sources:
    """S1's records begin in 2566, S2's in 2567; D moves from S1 to S2 (one child)."""
    rows = [
        ("S1", "A", "A", 2566, "P4"),  # already at S1 when its records begin
        ("S1", "B", "B", 2566, "P1"),  # the first grade of a level: entered then
        ("S1", "A", "A", 2567, "P5"),
        ("S1", "C", "C", 2567, "P5"),  # after S1's first year of records: an entry
        ("S1", "D", "D", 2566, "P4"),
        ("S2", "7", "D", 2567, "P5"),  # D came from S1: an entry, in S2's first year
        ("S2", "8", "E", 2567, "P5"),  # at S2 when its records begin
    ]
    frame = pd.DataFrame(
        rows, columns=["school_id", "student_id", "person_id", "academic_year", "grade_level"]
    )
    enrollments = frame.drop(columns="person_id").assign(term=1, classroom="1/1", advisor_id="T1")
    students = frame.drop_duplicates(["school_id", "student_id"])[
        ["school_id", "student_id", "person_id"]
    ].assign(birth_date=pd.Timestamp("2014-01-01"), sex="F", nationality="Thai", disability="")
    return Sources.from_frames(
        {"students": students, "enrollments": enrollments, "exits": None, "calendar": None}
    )


def test_a_first_term_in_the_schools_first_year_of_records_is_an_entry_only_when_known() -> None:
    """Records that begin with a child already at school do not say they entered then:
    taken as an entry, every child of a school's first year of records 'entered this
    year' at their grade of the time, which the model learnt and the drift check flagged
    every week after."""
    sources = _entries()
    days = [pd.Timestamp("2023-07-03"), pd.Timestamp("2024-07-01")]
    rows = population(sources, days)
    features = build_features(sources, rows)
    seen = pd.concat([rows[["as_of", "school_id", "student_id"]], features], axis=1)
    seen = seen.set_index([seen["as_of"].dt.year, "student_id"])
    entry = seen["entry_grade_level_order"]
    this_year = seen["entered_school_this_year"]

    level = {g: float(i) for i, g in enumerate(["K1", "K2", "K3", "P1", "P2", "P3", "P4", "P5"])}
    assert np.isnan(entry[2023, "A"])
    assert np.isnan(this_year[2023, "A"])
    assert np.isnan(entry[2024, "A"])  # still unknown
    assert np.isnan(this_year[2024, "A"])
    assert (entry[2023, "B"], this_year[2023, "B"]) == (level["P1"], 1.0)
    assert (entry[2024, "C"], this_year[2024, "C"]) == (level["P5"], 1.0)
    assert (entry[2024, "7"], this_year[2024, "7"]) == (level["P5"], 1.0)
    assert np.isnan(entry[2024, "8"])
    assert np.isnan(this_year[2024, "8"])

    # A partition holding D alone, with every partition's school counts, sees S2's
    # records begin in 2567 too, and D's row is the whole read's.
    d_only = replace(
        sources,
        students=sources.students[sources.students["person_id"] == "D"],
        enrollments=sources.enrollments[sources.enrollments["person_id"] == "D"],
        school_years=school_year_counts(sources.enrollments, sources.exits),
    )
    alone = build_features(d_only, population(d_only, days[1:]))
    pd.testing.assert_series_equal(
        alone.iloc[0], features[rows["student_id"].eq("7").to_numpy()].iloc[0], check_names=False
    )
