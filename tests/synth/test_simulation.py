"""Synthetic data: contract-valid, deterministic, realistic rates, and defects ingest rejects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schooldata.ingest import ingest_directory
from synth import SynthConfig, dropout_rates_by_level, generate, write_directory
from tests.conftest import ID_KEY

SMALL = SynthConfig(schools=6, students=900, years=2, seed=3, defect_rate=0.0)


@pytest.fixture(scope="module")
def clean():  # type: ignore[no-untyped-def]
    return generate(SMALL)


def test_clean_synthetic_data_ingests_without_a_single_reject(
    clean, tmp_path: Path, engine
) -> None:
    write_directory(clean, tmp_path / "synth")
    report = ingest_directory(tmp_path / "synth", engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0
    assert {s.source: s.rows_rejected for s in report.sources if s.rows_rejected} == {}
    assert {s.source: s.rows_loaded for s in report.sources} == {
        name: len(frame) for name, frame in clean.frames.items()
    }


def test_injected_defects_are_exactly_the_rejected_rows_and_blanked_values(
    tmp_path: Path, engine
) -> None:
    result = generate(SynthConfig(schools=6, students=900, years=2, seed=3, defect_rate=0.01))
    write_directory(result, tmp_path / "synth")
    report = ingest_directory(tmp_path / "synth", engine, ID_KEY, tmp_path / "rejects")
    rejects = {s.source: s.rejects for s in report.sources}

    for key, injected in result.defects.items():
        source, column = key.split(".")
        found = rejects[source][rejects[source]["column"] == column]
        assert len(found) == injected, key
        assert set(found["action"]) == {"rejected"}, key
    for key, injected in result.blanked.items():
        source, column = key.split(".")
        found = rejects[source][rejects[source]["column"] == column]
        found = found[found["action"] != "not linked"]  # an ID several students carry
        assert len(found) == injected, key
        assert set(found["action"]) == {"blanked"}, key
    # One ID filled down a room's column, and one given to a child of each of two schools
    # at school on the same days: their students kept, and linked by it to nobody.
    shared = rejects["students"][rejects["students"]["action"] == "not linked"]
    across = shared["reason"].str.contains("another school")
    assert [len(codes.split(", ")) for codes in shared.loc[~across, "value"]] == [3]
    assert [len(codes.split(", ")) for codes in shared.loc[across, "value"]] == [1, 1]
    assert result.not_linked == {"filled down": 3, "at two schools": 2}
    assert report.linking is not None
    assert report.linking["shared_id"] == 5
    # A bad optional value never costs the row: every student, with all their records.
    loaded = {s.source: s.rows_loaded for s in report.sources}
    assert loaded["students"] == len(result.frames["students"])
    for source, frame in result.frames.items():
        rejected = sum(n for k, n in result.defects.items() if k.startswith(f"{source}."))
        assert loaded[source] == len(frame) - rejected, source


def test_generation_is_deterministic_for_a_seed(clean) -> None:
    again = generate(SMALL)
    for name, frame in clean.frames.items():
        pd.testing.assert_frame_equal(again.frames[name], frame, obj=name)


def test_dropout_rates_are_plausible_and_highest_in_vocational(clean) -> None:
    rates = dropout_rates_by_level(clean.frames)["annual_rate"]

    assert rates.between(0, 0.2).all()
    assert rates["vocational (ปวช.)"] > rates["primary"]
    assert rates["upper secondary"] > rates["primary"]


def test_migrants_often_have_no_thai_id_and_leave_by_moving(clean) -> None:
    students = clean.frames["students"]
    migrants = students[students["nationality"] != "TH"]
    exits = clean.frames["exits"]
    dropped = exits[exits["exit_type"] == "dropout"].merge(students, on=["school_id", "student_id"])

    no_thai_id = migrants["national_id"].isna() | migrants["national_id"].str.startswith("G")
    assert no_thai_id.mean() > 0.3
    assert migrants["national_id"].str.startswith("G").sum() > 5  # the schools' G codes
    assert students.loc[students["nationality"] == "TH", "national_id"].notna().all()
    moved_share = (dropped.loc[dropped["nationality"] != "TH", "reason_code"] == 2).mean()
    assert moved_share > 0.5


def test_dropouts_are_absent_more_in_their_last_weeks(clean) -> None:
    exits = clean.frames["exits"]
    dropouts = exits[exits["exit_type"] == "dropout"][["school_id", "student_id", "exit_date"]]
    attendance = clean.frames["attendance"].assign(date=lambda f: pd.to_datetime(f["date"]))
    absent = attendance["status"].isin(["absent", "ขาด"])
    last = attendance.merge(
        dropouts.assign(exit_date=pd.to_datetime(dropouts["exit_date"])),
        on=["school_id", "student_id"],
    )
    window = last[(last["date"] > last["exit_date"] - pd.Timedelta(days=45))]

    assert window["status"].isin(["absent", "ขาด"]).mean() > 3 * absent.mean()


def test_schools_number_their_own_students_and_a_child_keeps_their_id_across_schools(
    clean,
) -> None:
    students = clean.frames["students"]
    enrollments = clean.frames["enrollments"]
    # Every school numbers from 10001: codes are shared between schools.
    shared = students.groupby("student_id")["school_id"].nunique()
    assert (shared > 1).sum() > 50
    assert not students.duplicated(["school_id", "student_id"]).any()
    # Children who went on from P6 (or moved) are students of two schools with one ID.
    with_id = students.dropna(subset=["national_id"])
    movers = with_id.groupby("national_id")["school_id"].nunique()
    assert (movers > 1).sum() > 20
    # ... and one of those is a P6 child who is in M1 at a secondary school the next year.
    grade = enrollments.merge(students[["school_id", "student_id", "national_id"]])
    p6 = set(grade.loc[grade["grade_level"] == "P6", "national_id"].dropna())
    m1 = grade.loc[grade["grade_level"] == "M1", ["national_id", "school_id"]]
    went_on = m1[m1["national_id"].isin(p6) & m1["school_id"].str.startswith("S")]
    assert len(went_on) > 5


def test_some_children_come_back_after_leaving_and_some_moves_go_unrecorded(clean) -> None:
    students = clean.frames["students"].dropna(subset=["national_id"])
    enrollments = clean.frames["enrollments"].merge(
        students[["school_id", "student_id", "national_id"]]
    )
    terms = enrollments["academic_year"] * 2 + enrollments["term"]
    order = enrollments.assign(ordinal=terms).sort_values(["national_id", "ordinal"])
    gap = order.groupby("national_id")["ordinal"].diff() > 1
    assert gap.sum() >= 1  # a term or more away, then enrolled again

    exits = clean.frames["exits"]
    changed = order.groupby("national_id")["school_id"].transform(lambda s: s.ne(s.shift()))
    first = ~order["national_id"].duplicated()
    moves = order[changed & ~first & ~order["grade_level"].isin(["M1", "V1", "M4"])]
    recorded = exits[exits["exit_type"] == "transfer"]
    assert len(moves) > len(recorded[recorded["destination_school_id"].isin(moves["school_id"])])


def test_children_are_referred_outside_after_a_terms_first_weeks_too(clean) -> None:
    """A follow-up later in the term may refer a child without parents' care outside (the
    care system's last step), so an area office that follows referrals sees them all term."""
    calendar = clean.frames["calendar"]
    starts = pd.to_datetime(calendar.loc[calendar["school_id"] == "", "start_date"])
    starts = np.sort(starts.to_numpy(dtype="datetime64[D]"))
    referred = clean.effects[clean.effects["type"] == "external_referral"]
    dates = pd.to_datetime(referred["date"]).to_numpy(dtype="datetime64[D]")
    days_in = (dates - starts[np.searchsorted(starts, dates, "right") - 1]).astype(int)
    assert (days_in < 45).any()  # the term's first actions
    later = referred[days_in >= 50]  # and follow-ups later in the term
    assert len(later) >= 3
    household = clean.frames["household"]
    without_parents = household[
        household["caregiver"].isin(["grandparents", "relatives", "other", "none"])
    ]
    shown = set(zip(without_parents["school_id"], without_parents["student_id"], strict=True))
    assert set(zip(later["school_id"], later["student_id"], strict=True)) <= shown
