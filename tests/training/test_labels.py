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


def _sources(
    enrolled: dict[str, list[tuple[int, int, str]]], exits: list[tuple[str, str, str]]
) -> Sources:
    rows = [
        {
            "student_id": s,
            "academic_year": y,
            "term": t,
            "school_id": "S1",
            "grade_level": level,
            "advisor_id": "T1",
            "snapshot_date": pd.Timestamp(SNAPSHOT[(y, t)]),
        }
        for s, terms in enrolled.items()
        for y, t, level in terms
    ]
    exit_frame = pd.DataFrame(exits, columns=["student_id", "exit_date", "exit_type"])
    exit_frame["exit_date"] = pd.to_datetime(exit_frame["exit_date"])
    students = pd.DataFrame({"student_id": list(enrolled), "school_id": "S1"})
    return Sources.from_frames(
        {"students": students, "enrollments": pd.DataFrame(rows), "exits": exit_frame}
    )


def _label(sources: Sources, student: str, as_of: str, **rules: object) -> pd.Series:
    query = pd.DataFrame({"student_id": [student], "as_of": [pd.Timestamp(as_of)]})
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
            "student_id": ["F"],
            "exit_date": pd.to_datetime(["2014-06-26"]),
            "exit_type": ["graduated"],
        }
    )
    students = pd.DataFrame({"student_id": ["F", "G", "X"], "school_id": "C1"})
    sources = Sources.from_frames(
        {
            "students": students,
            "enrollments": pd.DataFrame(rows),
            "exits": exits,
            "calendar": calendar,
        }
    )

    assert _label(sources, "F", "2013-11-04")["label"] == 0
    gone = _label(sources, "G", "2014-03-03")  # vanished with no exit: known at the term end
    assert gone["label"] == 1
    assert gone["event_date"] == pd.Timestamp("2014-06-26")
