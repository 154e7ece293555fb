"""Lists checked against what happened, on a history whose outcome is known exactly."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from features.sources import Sources
from training.labels import LabelRules
from training.outcomes import judge_lists

MONDAYS = pd.date_range("2024-06-03", "2024-07-29", freq="W-MON")  # nine weeks of term 1


def _sources() -> Sources:
    enrolled = [
        {
            "student_id": s,
            "academic_year": 2567,
            "term": t,
            "school_id": "S1",
            "grade_level": "M2",
            "advisor_id": "T1",
            "snapshot_date": pd.Timestamp("2024-06-10" if t == 1 else "2024-11-10"),
        }
        for s in "ABC"
        for t in (1, 2)
    ]
    exits = pd.DataFrame(
        {
            "school_id": "S1",
            "student_id": ["A", "C"],
            "exit_date": pd.to_datetime(["2024-08-20", "2024-09-10"]),
            "exit_type": ["dropout", "dropout"],
        }
    )
    interventions = pd.DataFrame(
        {
            "school_id": "S1",
            "student_id": ["B", "A"],
            "date": pd.to_datetime(["2024-07-01", "2024-05-20"]),  # A's came before the flag
            "type": ["home_visit", "home_visit"],
        }
    )
    return Sources.from_frames(
        {
            "students": pd.DataFrame(
                {
                    "student_id": list("ABC"),
                    "school_id": "S1",
                    "person_id": ["pA", "pB", "pC"],
                    "sex": ["F", "M", "F"],
                    "nationality": "TH",
                    "disability": "none",
                }
            ),
            "enrollments": pd.DataFrame(enrolled),
            "exits": exits,
            "interventions": interventions,
        }
    )


TIER_ORDER = {"high": 0, "watch": 1, "low": 2}


def _history() -> pd.DataFrame:
    rows = []
    for week, day in enumerate(MONDAYS):
        tiers = {
            "A": "high" if day >= pd.Timestamp("2024-06-17") else "low",  # flagged from week 3
            "B": "watch"
            if pd.Timestamp("2024-06-24") <= day <= pd.Timestamp("2024-07-08")
            else "low",
            "C": "low",  # left suddenly: never flagged
        }
        rows += [
            {
                "run_id": week,
                "as_of": day,
                # Made on the day, except the first two weeks: filled in a month later.
                "created_at": day + pd.Timedelta(days=30 if week < 2 else 0, hours=7),
                "model_version": "1",
                "student_id": s,
                "school_id": "S1",
                "grade_level": "M2",
                "tier": tier,
                "rank_in_school": rank,
            }
            for rank, (s, tier) in enumerate(
                sorted(tiers.items(), key=lambda item: (TIER_ORDER[item[1]], item[0])), 1
            )
        ]
    return pd.DataFrame(rows)


def test_found_missed_and_lead_time_are_counted_exactly() -> None:
    rules = LabelRules(180, observed_until=pd.Timestamp("2025-03-31"))

    report = judge_lists([_history()], _sources(), rules)

    assert report.runs == 9
    assert report.immature == 0
    row = report.rows.set_index(["model_version", "school_id"]).loc[("1", "S1")]
    assert (row["academic_year"], row["term"], row["weeks"]) == (2567, 1, 9)
    assert row["students"] == 3
    assert row["left"] == 2  # A and C
    assert row["found"] == 1  # A, flagged on 17 June, left on 20 August
    assert row["missed"] == 1  # C
    assert row["median_lead_weeks"] == pytest.approx(
        (pd.Timestamp("2024-08-20") - pd.Timestamp("2024-06-17")).days // 7
    )
    assert row["found_in_time"] == 1  # nine weeks ahead
    assert row["found_8w"] == 1
    assert row["flagged"] == 2  # A and B
    assert row["flagged_helped"] == 1  # B, visited after being flagged; A's visit came before
    assert row["backfilled_weeks"] == 2
    # No capacity given: the service plans DEFAULT_CAPACITY (5) visits a week, so the first
    # week's plan took all three, C too, whom no list flagged (12 weeks before leaving).
    assert (row["planned_in_time"], row["planned_8w"]) == (2, 2)
    (plans,) = report.on_plans
    assert plans.model_version == "1"
    assert plans.overall.left == 2
    assert plans.overall.found_8w.estimate == 1.0
    by_sex = plans.by_group[plans.by_group["attribute"] == "sex"].set_index("group")
    assert by_sex.loc["F", "left"] == 2  # A and C
    assert by_sex.loc["F", "found_8w"] == 2


def test_a_leaver_flagged_six_weeks_ahead_is_in_time_at_four_weeks_not_at_eight() -> None:
    history = _history()
    later = (history["student_id"] == "A") & (history["as_of"] < pd.Timestamp("2024-07-08"))
    history.loc[later, "tier"] = "low"  # A first flagged on 8 July, leaves on 20 August
    rules = LabelRules(180, observed_until=pd.Timestamp("2025-03-31"))

    report = judge_lists([history], _sources(), rules)

    row = report.rows.set_index(["model_version", "school_id"]).loc[("1", "S1")]
    assert (row["found"], row["found_in_time"], row["found_8w"]) == (1, 1, 0)


def test_weeks_whose_horizon_has_not_passed_are_left_out() -> None:
    rules = LabelRules(180, observed_until=pd.Timestamp("2024-12-15"))

    report = judge_lists([_history()], _sources(), rules)

    # Weeks up to 18 June are mature by 15 December (180 days); the other six are not.
    assert report.runs == 3
    assert report.immature == 6


def _enrolled(students: pd.DataFrame) -> pd.DataFrame:
    """Each student enrolled in M1 in term 1 of 2567."""
    return students[["school_id", "student_id"]].assign(
        academic_year=2567,
        term=1,
        grade_level="M1",
        advisor_id="T1",
        snapshot_date=pd.Timestamp("2024-06-10"),
    )


def _stored_lists(
    lists: dict[str, tuple[pd.DatetimeIndex, list[str]]], *, high: Callable[[str, int], bool]
) -> pd.DataFrame:
    """Stored list rows: on each of its weeks, each school's codes in this order (``high``
    of a code and its rank: in the high tier), made on the day by model version 1."""
    return pd.DataFrame(
        [
            {
                "run_id": week,
                "as_of": day,
                "created_at": day + pd.Timedelta(hours=7),
                "model_version": "1",
                "school_id": school,
                "student_id": code,
                "grade_level": "M1",
                "tier": "high" if high(code, rank) else "low",
                "rank_in_school": rank,
            }
            for week, day in enumerate(MONDAYS)
            for school, (weeks, codes) in lists.items()
            if day in weeks
            for rank, code in enumerate(codes, 1)
        ]
    )


def test_each_school_plans_its_own_capacity_in_list_order_and_same_codes_stay_apart() -> None:
    """Two schools number their students the same (A to F); S1 visits one a week, S2 two.
    Over two weekly lists in a fixed order, S1's plans take A then B and S2's take A, B
    then C, D. At each school A (first) and D (fourth) leave; both were flagged every week,
    but only the plans' reach counts as on a plan: A at S1, A and D at S2."""
    codes = list("ABCDEF")
    weeks = MONDAYS[:2]
    students = pd.DataFrame(
        [
            {"school_id": school, "student_id": code, "person_id": f"{school}{code}"}
            for school in ("S1", "S2")
            for code in codes
        ]
    ).assign(sex="M", nationality="TH", disability="none")
    enrolled = _enrolled(students)
    exits = students[students["student_id"].isin(["A", "D"])][["school_id", "student_id"]]
    sources = Sources.from_frames(
        {
            "students": students,
            "enrollments": enrolled,
            "exits": exits.assign(exit_date=pd.Timestamp("2024-09-30"), exit_type="dropout"),
            "schools": pd.DataFrame({"school_id": ["S1", "S2"], "home_visit_capacity": [1, 2]}),
        }
    )
    history = _stored_lists(
        dict.fromkeys(("S1", "S2"), (weeks, codes)), high=lambda code, _: code in "AD"
    )
    rules = LabelRules(180, observed_until=pd.Timestamp("2025-03-31"))

    report = judge_lists([history], sources, rules)

    rows = report.rows.set_index("school_id")
    for school, planned in (("S1", 1), ("S2", 2)):
        assert rows.loc[school, "students"] == 6
        assert rows.loc[school, "left"] == 2
        assert rows.loc[school, "found_8w"] == 2  # A and D: flagged from the first week
        assert rows.loc[school, "planned_8w"] == planned
    (plans,) = report.on_plans
    assert plans.overall.left == 4
    assert plans.overall.found_8w.estimate == 0.75


def test_judging_a_few_schools_at_a_time_equals_judging_all_and_a_moved_child_is_one() -> None:
    """A child on S1's lists (code A) for two weeks moves to S2 (code B there), is on its
    lists for two more and leaves. Judged one school at a time, S1's part and S2's part
    each see them leave; over both they are one child who left, found on S1's first plan,
    17 weeks ahead, as when both schools are judged together."""
    students = pd.DataFrame(
        {
            "school_id": ["S1", "S1", "S2", "S2"],
            "student_id": ["A", "B", "A", "B"],
            "person_id": ["moved", "s1b", "s2a", "moved"],
            "sex": ["F", "M", "M", "F"],
            "nationality": "TH",
            "disability": "none",
        }
    )
    enrolled = _enrolled(students)
    # Enrolled at S1 last term (else leaving S2 this term would be a move back to S1).
    enrolled.loc[0, ["academic_year", "term", "snapshot_date"]] = [2566, 2, "2023-11-10"]
    sources = Sources.from_frames(
        {
            "students": students,
            "enrollments": enrolled.astype({"snapshot_date": "datetime64[ns]"}),
            "exits": pd.DataFrame(
                {
                    "school_id": ["S2"],
                    "student_id": ["B"],
                    "exit_date": [pd.Timestamp("2024-09-30")],
                    "exit_type": ["dropout"],
                }
            ),
            "schools": pd.DataFrame({"school_id": ["S1", "S2"], "home_visit_capacity": [1, 1]}),
        }
    )
    history = _stored_lists(
        {"S1": (MONDAYS[:2], ["A", "B"]), "S2": (MONDAYS[2:4], ["B", "A"])},
        high=lambda _, rank: rank == 1,
    )
    rules = LabelRules(180, observed_until=pd.Timestamp("2025-03-31"))

    whole = judge_lists([history], sources, rules)
    parts = judge_lists([history[history["school_id"] == s] for s in ("S1", "S2")], sources, rules)

    pd.testing.assert_frame_equal(whole.rows, parts.rows)
    assert (whole.runs, whole.immature) == (parts.runs, parts.immature) == (4, 0)
    (plans,), (in_parts,) = whole.on_plans, parts.on_plans
    assert plans.overall == in_parts.overall
    pd.testing.assert_frame_equal(plans.by_group, in_parts.by_group)
    assert in_parts.overall.left == 1
    assert in_parts.overall.median_lead_weeks == pytest.approx(17.0)  # 3 June to 30 September
    assert parts.rows.set_index("school_id")["planned_8w"].to_dict() == {"S1": 1, "S2": 1}
    by_sex = in_parts.by_group.set_index(["attribute", "group"])
    assert by_sex.loc[("sex", "F"), "left"] == 1


def test_judge_lists_refuses_one_frame_for_its_parts() -> None:
    rules = LabelRules(180, observed_until=pd.Timestamp("2025-03-31"))
    with pytest.raises(TypeError, match="in parts"):
        judge_lists(_history(), _sources(), rules)  # type: ignore[arg-type]


def test_each_week_is_replayed_at_the_capacity_stored_with_its_run() -> None:
    """S1 visits one a week today. Its first list was stored before capacities were (none
    with the run: replayed at today's, so A), its second when it visited three (B, C and
    D; A was visited in the last 30 days). C and E leave: C was on that second plan, E
    (fifth) on none; replayed at today's capacity, the second plan would have taken only
    B."""
    codes = list("ABCDEF")
    students = pd.DataFrame(
        {"school_id": "S1", "student_id": codes, "person_id": codes, "sex": "F"}
    ).assign(nationality="TH", disability="none")
    exits = students[students["student_id"].isin(["C", "E"])][["school_id", "student_id"]]
    sources = Sources.from_frames(
        {
            "students": students,
            "enrollments": _enrolled(students),
            "exits": exits.assign(exit_date=pd.Timestamp("2024-09-30"), exit_type="dropout"),
            "schools": pd.DataFrame({"school_id": ["S1"], "home_visit_capacity": [1]}),
        }
    )
    history = _stored_lists({"S1": (MONDAYS[:2], codes)}, high=lambda _, rank: rank <= 3)
    history["visit_capacity"] = history["as_of"].map({MONDAYS[0]: None, MONDAYS[1]: 3})
    rules = LabelRules(180, observed_until=pd.Timestamp("2025-03-31"))

    stored = judge_lists([history], sources, rules)
    today = judge_lists([history.drop(columns="visit_capacity")], sources, rules)

    assert stored.rows.loc[0, "left"] == 2
    assert stored.rows.loc[0, "planned_8w"] == 1  # C
    assert today.rows.loc[0, "planned_8w"] == 0
