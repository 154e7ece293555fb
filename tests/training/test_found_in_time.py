"""Found in time: weekly lists at each school's capacity, judged by how early they flag
the students who leave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.evaluate import flag_places, found_difference, found_in_time, visit_plans


def _weeks(
    scores: dict[str, list[float]],
    leaves: dict[str, str],
    absence: dict[str, float] | None = None,
    *,
    weeks: int = 10,
) -> pd.DataFrame:
    """Student-weeks of one school: every student scored each Monday of ``weeks`` weeks
    from 2 June 2025 (the student's code is their name; ``absence``: their recent
    absence, else unknown)."""
    mondays = pd.date_range("2025-06-02", periods=weeks, freq="7D")
    rows = []
    for person, weekly in scores.items():
        left = pd.Timestamp(leaves[person]) if person in leaves else pd.NaT
        for day, score in zip(mondays, weekly, strict=True):
            if pd.notna(left) and day >= left:
                break
            rows.append(
                {
                    "person_id": person,
                    "student_id": person,
                    "school_id": "S1",
                    "absence_rate_20d": (absence or {}).get(person, np.nan),
                    "as_of": day,
                    "score": score,
                    "label": int(pd.notna(left)),
                    "event_date": left,
                }
            )
    return pd.DataFrame(rows)


def test_students_tied_at_the_cut_come_in_the_lists_order() -> None:
    groups = pd.DataFrame({"as_of": [1] * 5 + [2] * 3, "school_id": ["A"] * 8})
    rows = groups.assign(
        student_id=["e", "d", "c", "b", "a", "c", "b", "a"],
        absence_rate_20d=[0.0, 0.1, 0.5, np.nan, 0.0, 0.0, 0.0, 0.0],
    )
    flagged = flag_places(np.array([5, 4, 4, 4, 1, 3, 3, 3.0]), groups, np.full(8, 2), rows=rows)
    # Week 1: the best score, then of the three tied the one absent most ("c").
    # Week 2: three tied with the same absence: the first codes ("a", "b"), not "c".
    assert flagged.tolist() == [True, False, True, False, False, False, True, True]


def test_the_plan_leaves_out_whom_it_visited_in_the_last_thirty_days() -> None:
    # Two schools, one place a week each; at S1 the same order every week.
    rows = _weeks({"a": [3.0] * 7, "b": [2.0] * 7, "c": [1.0] * 7}, {}, weeks=7)
    other = _weeks({"x": [0.5] * 7}, {}, weeks=7).assign(school_id="S2")
    rows = pd.concat([rows, other], ignore_index=True)
    taken = visit_plans(rows["score"].to_numpy(), rows, np.ones(len(rows)))
    plan = rows[taken].groupby(["school_id", "as_of"])["person_id"].first()
    # S1: a, b, c; weeks 4 and 5 (21 and 28 days after a's visit) nobody is free; a is
    # again 35 days after. S2's only student is visited every fifth week alike.
    assert plan["S1"].tolist() == ["a", "b", "c", "a", "b"]
    assert plan["S1"].index.day.tolist() == [2, 9, 16, 7, 14]
    assert plan["S2"].tolist() == ["x", "x"]
    assert plan["S2"].index.day.tolist() == [2, 7]


def test_a_period_without_lists_finds_nobody() -> None:
    rows = _weeks({"a": [1.0] * 10}, {"a": "2025-08-18"}).iloc[:0]
    assert visit_plans(rows["score"].to_numpy(), rows, np.ones(0)).tolist() == []
    found = found_in_time(rows, rows["score"].to_numpy(), np.ones(0))
    assert found.left == 0


def test_a_leaver_flagged_eleven_weeks_ahead_is_found_at_four_and_eight_weeks() -> None:
    others = {f"stays{i}": [5.0 - i / 2] * 10 for i in range(4)}
    rows = _weeks(
        {
            "early": [9.0] * 10,  # top of every list, leaves after the ten weeks
            "late": [1.0] * 8 + [9.5, 9.5],  # first only in the last two weeks
            **others,  # between them: the plan visits them while "early" waits
            "other": [0.0] * 10,
        },
        {"early": "2025-08-18", "late": "2025-08-18"},
    )
    found = found_in_time(rows, rows["score"].to_numpy(), np.ones(len(rows)))
    assert found.left == 2
    # "early" is visited 11 weeks before leaving; "late" 3 weeks before (the plan took
    # the four others before it in weeks 2 to 5 and 7 to 8, "early" again in week 6).
    assert found.found_4w.estimate == pytest.approx(0.5)
    assert found.found_8w.estimate == pytest.approx(0.5)
    assert found.median_lead_weeks == pytest.approx((11 + 3) / 2)


def test_a_score_that_ties_everyone_finds_students_in_the_order_of_its_tie_break() -> None:
    # Each week one place and eight students with the same score: the plan takes them by
    # code, a new one each week (never a new lottery each week), and after five weeks the
    # first again: the last code is never reached.
    unknown = _weeks({p: [0.0] * 10 for p in "abcdefgh"}, {"h": "2025-08-18"})
    found = found_in_time(unknown, unknown["score"].to_numpy(), np.ones(len(unknown)))
    assert found.left == 1
    assert found.found_4w.estimate == 0.0
    assert found.median_lead_weeks == 0.0
    absent = _weeks({p: [0.0] * 10 for p in "abcdefgh"}, {"h": "2025-08-18"}, absence={"h": 0.4})
    found = found_in_time(absent, absent["score"].to_numpy(), np.ones(len(absent)))
    assert found.found_8w.estimate == 1.0  # the most absent first: "h" from the first week


def test_promotion_sees_a_challenger_that_finds_fewer_in_time() -> None:
    students = [f"p{i}" for i in range(200)]
    old = pd.Series([10.0] * 100 + [0.0] * 100, index=students)  # half found 8+ weeks ahead
    new = pd.Series([10.0] * 40 + [0.0] * 160, index=students)  # a fifth
    share_new, share_old, difference = found_difference(new, old, resamples=200)
    assert (share_new, share_old) == (pytest.approx(0.2), pytest.approx(0.5))
    assert difference.estimate == pytest.approx(-0.3)
    assert difference.high < -0.01  # worse beyond any margin: refused
    same = found_difference(old, old, resamples=200)[2]
    assert same.low == same.high == 0.0  # the same students found: a tie, never a loss
