"""The fairness audit on hand-built weeks: students not rows, intervals, like with like."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.translate import group_word
from training.config import FairnessConfig
from training.fairness import audit_groups, explain_flag, fairness_audit, flag_meaning

WEEKS = pd.to_datetime(["2025-06-02", "2025-06-09", "2025-06-16", "2025-06-23"])


def _weeks(students: pd.DataFrame, scores: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Every student on every week; a leaver's label is 1 each week, leaving after the last."""
    rows = students.loc[students.index.repeat(len(WEEKS))].reset_index(drop=True)
    rows["as_of"] = np.tile(WEEKS, len(students))
    rows["event_date"] = rows["event_date"].where(rows["label"] == 1)
    return rows, np.repeat(scores, len(WEEKS))


def _students(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "student_id": [f"S{i:05d}" for i in range(n)],
            "person_id": [f"child-{i:05d}" for i in range(n)],
            "school_id": "S1",
            "grade_level": rng.choice(["P5", "M2", "M5", "V1"], n),
            "sex": rng.choice(["F", "M"], n),
            "nationality": np.where(rng.random(n) < 0.3, "MM", "TH"),
            "disability": "none",
            "equity_status": rng.choice(["none", "poor"], n),
            "label": (rng.random(n) < 0.12).astype(int),
            "event_date": pd.Timestamp("2025-09-01"),
        }
    )


CONFIG = FairnessConfig(top_share=0.12, bootstrap=200)


def test_students_are_counted_once_not_once_a_week() -> None:
    students = _students(400, np.random.default_rng(0))
    rows, scores = _weeks(students, students["label"].to_numpy() * 10.0)

    audit = fairness_audit(rows, rows["label"].to_numpy(), scores, CONFIG)
    sex = audit.groups[audit.groups["attribute"] == "sex"].set_index("group")

    assert sex["students"].sum() == 400
    assert sex["left"].sum() == students["label"].sum()
    found = audit.found_in_time.set_index(["attribute", "group"])
    assert found["left"].xs("nationality").sum() == students["label"].sum()


def test_a_group_of_three_students_is_too_few_to_judge() -> None:
    students = _students(600, np.random.default_rng(1))
    students.loc[:2, "disability"] = "visual"
    students.loc[:2, "label"] = 1
    scores = np.where(students["label"] == 1, 10.0, 0.0)
    scores[:3] = -5.0  # the three are never found: judged, they would be flagged
    rows, weekly = _weeks(students, scores)

    audit = fairness_audit(rows, rows["label"].to_numpy(), weekly, CONFIG)
    disability = audit.groups.set_index(["attribute", "group"]).loc[("disability", "any")]

    assert disability["students"] == 3
    assert disability["status"] == "too few to judge"
    assert not any(f.startswith("disability") for f in audit.flags)


def test_a_group_nobody_of_which_left_has_no_found_in_time_row() -> None:
    students = _students(600, np.random.default_rng(4))
    students.loc[:4, "sex"] = "X"
    students.loc[:4, "label"] = 0
    rows, weekly = _weeks(students, students["label"].to_numpy() * 10.0)

    audit = fairness_audit(rows, rows["label"].to_numpy(), weekly, CONFIG)

    groups = audit.groups.set_index(["attribute", "group"])
    assert groups.loc[("sex", "X"), "students"] == 5  # in the audit, as a group
    found = audit.found_in_time
    assert set(found.loc[found["attribute"] == "sex", "group"]) == {"F", "M"}


def test_a_model_that_ignores_one_groups_signal_is_flagged_for_that_group_only() -> None:
    rng = np.random.default_rng(2)
    students = _students(3000, rng)
    leaver = students["label"].to_numpy() == 1
    migrant = students["nationality"].to_numpy() == "MM"
    signal = rng.normal(size=len(students)) + 2.5 * leaver
    # For migrant children the model sees nothing: their leavers look like everyone else.
    scores = np.where(migrant, rng.normal(size=len(students)), signal)
    rows, weekly = _weeks(students, scores)

    audit = fairness_audit(rows, rows["label"].to_numpy(), weekly, CONFIG)
    groups = audit.groups.set_index(["attribute", "group"])

    other = groups.loc[("nationality", "other")]
    assert other["status"] == "flag"
    assert "recall" in other["flagged_metrics"]
    assert other["recall_high"] < CONFIG.low  # the whole interval lies below the band
    assert [f for f in audit.flags if not f.startswith("nationality=other")] == []
    row = audit.groups[
        (audit.groups["attribute"] == "nationality") & (audit.groups["group"] == "other")
    ].iloc[0]
    assert "moves across borders" in explain_flag(row, "en")
    found = audit.found_in_time.set_index(["attribute", "group"])
    other, thai = found.loc[("nationality", "other")], found.loc[("nationality", "Thai")]
    assert other["share_found_4w"] < thai["share_found_4w"]
    assert other["share_found_8w"] < thai["share_found_8w"]
    assert other["high_4w"] < thai["low_4w"]  # apart beyond their intervals


def test_a_difference_between_levels_is_reported_not_judged() -> None:
    rng = np.random.default_rng(3)
    students = _students(3000, rng)
    # Vocational students leave three times as often; girls are mostly in primary school.
    vocational = students["grade_level"] == "V1"
    students["label"] = (rng.random(len(students)) < np.where(vocational, 0.3, 0.1)).astype(int)
    students["sex"] = np.where(
        students["grade_level"] == "P5",
        np.where(rng.random(len(students)) < 0.8, "F", "M"),
        np.where(rng.random(len(students)) < 0.2, "F", "M"),
    )
    scores = rng.normal(size=len(students)) + 2.0 * students["label"].to_numpy()
    rows, weekly = _weeks(students, scores)

    audit = fairness_audit(rows, rows["label"].to_numpy(), weekly, CONFIG)

    assert audit.flags == []
    levels = audit.levels.set_index("level")
    assert (
        levels.loc["vocational", "leave_rate"] > 2 * levels.loc["pre-primary/primary", "leave_rate"]
    )
    assert (audit.levels["note"].str.contains("not judged")).all()


@pytest.mark.parametrize("language", ["th", "en"])
def test_every_flag_is_explained_in_both_languages(language: str) -> None:
    rng = np.random.default_rng(2)
    students = _students(3000, rng)
    migrant = students["nationality"].to_numpy() == "MM"
    scores = np.where(
        migrant, rng.normal(size=3000), rng.normal(size=3000) + 2.5 * students["label"]
    )
    rows, weekly = _weeks(students, scores)
    audit = fairness_audit(rows, rows["label"].to_numpy(), weekly, CONFIG)
    flagged = audit.groups[audit.groups["status"] == "flag"]

    texts = [explain_flag(row, language) for _, row in flagged.iterrows()]

    assert texts
    thai = any("\u0e00" <= c <= "\u0e7f" for c in texts[0])
    assert thai == (language == "th")
    # The table logged with the run (fairness.csv) carries what each flag may mean, for
    # the model page (which may not import this module); a group not flagged, nothing.
    meanings = audit.groups[f"meaning_{language}"]
    assert all(
        flag_meaning(row, language) in text
        for text, (_, row) in zip(texts, flagged.iterrows(), strict=True)
    )
    assert (meanings[flagged.index] != "").all()
    assert (meanings.drop(flagged.index) == "").all()


def test_every_audited_group_reads_as_words_in_both_languages() -> None:
    """The groups as the tables show them: English words (not a stored code such as
    ``extremely_poor``) and a Thai word for each."""
    rows = pd.DataFrame(
        {
            "sex": ["F", "M", None, "X"],
            "nationality": ["TH", "MM", None, "TH"],
            "disability": ["none", "visual", None, "none"],
            "equity_status": ["none", "poor", "extremely_poor", None],
            "grade_level": ["P1", "M2", "M5", "V1"],
        }
    )
    groups = audit_groups(rows)

    assert groups["poverty"].tolist() == ["none", "poor", "extremely poor", "not surveyed"]
    shown = {v for column in groups.columns for v in groups[column]}
    assert not {v for v in shown if "_" in v}
    assert not [v for v in shown if group_word("poverty", v, "th").endswith(v)]


def _flag(
    attribute: str, group: str, metric: str, ratio: float, low: float, high: float
) -> pd.Series:
    """One flagged group's row of the audit, as ``fairness_audit`` writes it."""
    row = {"attribute": attribute, "group": group, "students": 2029, "left": 72}
    row |= {"flagged_metrics": metric, f"{metric}_ratio": ratio}
    return pd.Series(row | {f"{metric}_low": low, f"{metric}_high": high})


@pytest.mark.parametrize(
    ("flag", "says", "never"),
    [
        # More of the poor group's stayers flagged: not a sign that their leaving is missed.
        (_flag("poverty", "poor", "fpr", 2.19, 2.03, 2.36), "whether or not", "sudden"),
        (_flag("poverty", "poor", "recall", 0.6, 0.45, 0.75), "sudden economic shock", "surveyed"),
        (_flag("poverty", "not surveyed", "recall", 0.6, 0.45, 0.75), "survey", "sudden"),
        (_flag("nationality", "other", "recall", 0.5, 0.3, 0.7), "across borders", "whether"),
        (_flag("nationality", "other", "precision", 2.85, 1.94, 3.85), "more often", "borders"),
        (_flag("sex", "M", "precision", 0.6, 0.5, 0.7), "less often", "pregnancy"),
    ],
)
def test_a_flag_is_explained_by_what_was_measured_and_which_way(
    flag: pd.Series, says: str, never: str
) -> None:
    """The model card explained every flag of an attribute alike: a poor group's stayers
    flagged 2.19 times as often "could mean that poor families may leave after a sudden
    economic shock, or the household was not surveyed" (a reason to miss leavers, and the
    poor group was surveyed)."""
    text = explain_flag(flag, "en")

    assert says in text
    assert never not in text
    thai = explain_flag(flag, "th")
    assert "อาจหมายความว่า" in thai
