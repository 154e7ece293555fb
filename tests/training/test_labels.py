"""Label rules on hand-built records: each rule, and what must never count."""

from __future__ import annotations

import pandas as pd
import pytest

from features.sources import Sources
from training.labels import LabelRules, dropout_events, label

# Four terms: 2567/1, 2567/2, 2568/1, 2568/2 (Thai default calendar).
SNAPSHOT = {
    (2567, 1): "2024-06-10",
    (2567, 2): "2024-11-10",
    (2568, 1): "2025-06-10",
    (2568, 2): "2025-11-10",
}


Term = tuple[int, int, str] | tuple[int, int, str, str]  # year, term, level[, school]


def _sources(
    enrolled: dict[str, list[Term]],
    exits: list[tuple[str, str, str] | tuple[str, str, str, str]],
    children: dict[tuple[str, str], str] | None = None,
) -> Sources:
    """Students by code at S1 (or the school a term names), exits at S1 (or the fourth
    field's school). Each school's student is a child alone unless ``children`` links
    (school, code) pairs as one child."""
    rows = []
    for s, terms in enrolled.items():
        for year, term, level, *school in terms:
            rows.append(
                {
                    "student_id": s,
                    "academic_year": year,
                    "term": term,
                    "school_id": school[0] if school else "S1",
                    "grade_level": level,
                    "advisor_id": "T1",
                    "snapshot_date": pd.Timestamp(SNAPSHOT[(year, term)]),
                }
            )
    exit_frame = pd.DataFrame(
        [(s, day, kind, *(school or ["S1"])) for s, day, kind, *school in exits],
        columns=["student_id", "exit_date", "exit_type", "school_id"],
    )
    exit_frame["exit_date"] = pd.to_datetime(exit_frame["exit_date"])
    pairs = pd.DataFrame(rows)[["school_id", "student_id"]].drop_duplicates()
    students = pairs.assign(
        person_id=[
            (children or {}).get((school, code), f"{school}:{code}")
            for school, code in zip(pairs["school_id"], pairs["student_id"], strict=True)
        ]
    )
    return Sources.from_frames(
        {"students": students, "enrollments": pd.DataFrame(rows), "exits": exit_frame}
    )


def _label(
    sources: Sources, student: str, as_of: str, school: str = "S1", **rules: object
) -> pd.Series:
    students = sources.students
    mine = (students["school_id"] == school) & (students["student_id"] == student)
    person = students.loc[mine, "person_id"].iloc[0] if mine.any() else f"{school}:{student}"
    query = pd.DataFrame(
        {
            "school_id": [school],
            "student_id": [student],
            "person_id": [person],
            "as_of": [pd.Timestamp(as_of)],
        }
    )
    return label(sources, query, LabelRules(**rules)).iloc[0]  # type: ignore[arg-type]


ALL_TERMS = [(2567, 1, "M1"), (2567, 2, "M1"), (2568, 1, "M2"), (2568, 2, "M2")]


def test_dropout_exit_within_the_horizon_is_positive() -> None:
    sources = _sources({"A": ALL_TERMS[:2]}, [("A", "2024-12-20", "dropout")])

    assert _label(sources, "A", "2024-07-01")["label"] == 1
    assert _label(sources, "A", "2024-05-20")["label"] == 0  # 214 days ahead: beyond 180
    assert _label(sources, "A", "2024-05-20", horizon_days=240)["label"] == 1


def test_transfer_is_never_positive() -> None:
    sources = _sources({"B": ALL_TERMS[:1]}, [("B", "2024-09-15", "transfer")])

    assert _label(sources, "B", "2024-07-01")["label"] == 0
    assert dropout_events(sources, LabelRules()).empty


def test_unexplained_disappearance_is_positive_at_the_next_snapshot() -> None:
    sources = _sources({"C": ALL_TERMS[:1], "X": ALL_TERMS}, [])
    row = _label(sources, "C", "2024-07-01")

    assert row["label"] == 1
    assert row["event_kind"] == "non_continuation"
    assert row["event_date"] == pd.Timestamp("2024-11-10")


def test_failed_transition_after_p6_is_positive_but_graduating_m6_is_not() -> None:
    p6 = [(2567, 1, "P6"), (2567, 2, "P6")]
    m6 = [(2567, 1, "M6"), (2567, 2, "M6")]
    sources = _sources(
        {"D": p6, "E": m6, "X": ALL_TERMS},
        [("D", "2025-03-31", "graduated"), ("E", "2025-03-31", "graduated")],
    )

    assert _label(sources, "D", "2025-01-06")["event_kind"] == "failed_transition"
    assert _label(sources, "D", "2025-01-06")["label"] == 1
    assert _label(sources, "E", "2025-01-06")["label"] == 0


def test_m3_transition_is_configurable() -> None:
    m3 = [(2567, 1, "M3"), (2567, 2, "M3")]
    sources = _sources({"F": m3, "X": ALL_TERMS}, [("F", "2025-03-31", "graduated")])

    assert _label(sources, "F", "2025-01-06")["label"] == 1
    assert _label(sources, "F", "2025-01-06", m3_transition_counts=False)["label"] == 0


def test_death_is_never_positive() -> None:
    sources = _sources({"G": ALL_TERMS[:1], "X": ALL_TERMS}, [("G", "2024-08-01", "deceased")])

    assert _label(sources, "G", "2024-07-01")["label"] == 0


def test_a_label_is_mature_only_when_its_window_is_observed() -> None:
    sources = _sources({"X": ALL_TERMS}, [])  # observed until the end of 2568/2: 31 March 2026

    assert bool(_label(sources, "X", "2025-10-01")["mature"]) is True  # window ends 30 March 2026
    assert bool(_label(sources, "X", "2025-10-03")["mature"]) is False
    assert bool(_label(sources, "X", "2025-06-02", horizon_days=365)["mature"]) is False


@pytest.mark.parametrize("as_of", ["2024-07-01", "2024-09-30"])
def test_enrolled_every_term_is_negative(as_of: str) -> None:
    sources = _sources({"X": ALL_TERMS}, [])

    assert _label(sources, "X", as_of)["label"] == 0


def test_finishing_a_long_term_that_overlaps_the_next_count_is_not_a_dropout() -> None:
    # A college presentation from October to June, while the next term's count is in
    # February: the student is still enrolled at that count and graduates in June.
    rows = [
        {
            "student_id": s,
            "academic_year": y,
            "term": t,
            "school_id": "C1",
            "grade_level": "H1",
            "advisor_id": "T1",
            "snapshot_date": pd.Timestamp(snap),
        }
        for s, y, t, snap in [
            ("F", 2556, 2, "2013-10-01"),
            ("G", 2556, 2, "2013-10-01"),
            ("X", 2557, 1, "2014-02-01"),
        ]
    ]
    calendar = pd.DataFrame(
        {
            "school_id": "C1",
            "academic_year": [2556, 2557],
            "term": [2, 1],
            "start_date": pd.to_datetime(["2013-10-01", "2014-02-01"]),
            "end_date": pd.to_datetime(["2014-06-26", "2014-09-29"]),
        }
    )
    exits = pd.DataFrame(
        {
            "school_id": ["C1"],
            "student_id": ["F"],
            "exit_date": pd.to_datetime(["2014-06-26"]),
            "exit_type": ["graduated"],
        }
    )
    students = pd.DataFrame(
        {"student_id": ["F", "G", "X"], "school_id": "C1", "person_id": ["pF", "pG", "pX"]}
    )
    sources = Sources.from_frames(
        {
            "students": students,
            "enrollments": pd.DataFrame(rows),
            "exits": exits,
            "calendar": calendar,
        }
    )

    assert _label(sources, "F", "2013-11-04", school="C1")["label"] == 0
    gone = _label(
        sources, "G", "2014-03-03", school="C1"
    )  # vanished with no exit: known at the term end
    assert gone["label"] == 1
    assert gone["event_date"] == pd.Timestamp("2014-06-26")


def test_a_p6_child_who_enters_m1_at_another_school_is_no_dropout_of_their_old_school() -> None:
    p6 = [(2567, 1, "P6", "P1"), (2567, 2, "P6", "P1")]
    m1 = [(2568, 1, "M1", "S9"), (2568, 2, "M1", "S9")]
    # The same child: code 7 at the primary school, code 104 at the secondary one.
    linked = _sources(
        {"7": p6, "104": m1},
        [("7", "2025-03-31", "graduated", "P1")],
        {("P1", "7"): "child", ("S9", "104"): "child"},
    )
    assert _label(linked, "7", "2025-01-06", school="P1")["label"] == 0
    assert dropout_events(linked, LabelRules()).empty
    # Without the ID that links them, the primary school lost a child at the transition.
    alone = _sources({"7": p6, "104": m1}, [("7", "2025-03-31", "graduated", "P1")])
    assert _label(alone, "7", "2025-01-06", school="P1")["event_kind"] == "failed_transition"


def test_a_recorded_dropout_enrolled_elsewhere_next_term_moved_but_one_back_later_left() -> None:
    moved = _sources(
        {"A": ALL_TERMS[:2], "Z": [(2568, 1, "M2", "S2"), (2568, 2, "M2", "S2")]},
        [("A", "2025-02-20", "dropout")],
        {("S1", "A"): "child", ("S2", "Z"): "child"},
    )
    assert _label(moved, "A", "2025-01-06")["label"] == 0  # a move, with no transfer record

    back = _sources({"A": [*ALL_TERMS[:1], *ALL_TERMS[2:]]}, [("A", "2024-08-20", "dropout")])
    row = _label(back, "A", "2024-07-01")
    assert row["label"] == 1  # left, and came back a term later: the dropout stands
    assert row["event_kind"] == "dropout_exit"


def test_codes_two_schools_share_are_two_children() -> None:
    # Code A at S1 stays every term; code A at S2 vanishes after one.
    sources = _sources({"A": [*ALL_TERMS, (2567, 1, "M1", "S2")], "X": ALL_TERMS}, [])

    assert _label(sources, "A", "2024-07-01", school="S1")["label"] == 0
    assert _label(sources, "A", "2024-07-01", school="S2")["label"] == 1
