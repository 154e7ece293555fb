"""The drift check: stationary data raises no flag, a real shift does."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.sources import Sources
from riskmodel.input_counts import CALENDAR_FEATURES, MOVED, compare, drift_report, input_counts
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from synth import SynthConfig, generate, write_directory
from tests.conftest import ID_KEY, SMALL_SYNTH
from training.config import TrainConfig
from training.drift import feature_distribution, reference_rows
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.train import model_inputs


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, pd.DataFrame]:
    """Three years of a stationary synthetic world: the reference of a model trained on
    the mature rows, and the weeks after them."""
    folder = tmp_path_factory.mktemp("drift")
    write_directory(generate(SynthConfig(**(SMALL_SYNTH | {"years": 3}))), folder / "data")
    engine = make_engine(f"sqlite:///{folder / 'ews.db'}")
    ingest_directory(folder / "data", engine, ID_KEY, folder / "rejects")
    matrix = build_training_matrix(Sources.from_database(engine), LabelRules(180))
    mature = matrix[matrix["mature"]]
    features = model_inputs(TrainConfig.load())
    bundle = SimpleNamespace(distribution=feature_distribution(reference_rows(mature), features))
    later = matrix[matrix["as_of"] > mature["as_of"].max() + pd.Timedelta(days=30)]
    return bundle, later


def test_stationary_weeks_raise_no_flag(weeks: tuple[object, pd.DataFrame]) -> None:
    bundle, later = weeks
    for day in sorted(later["as_of"].unique())[::4]:
        report = drift_report(bundle, later[later["as_of"] == day])  # type: ignore[arg-type]

        assert len(report) > 20
        assert report["psi"].max() < MOVED, report.head(3).to_string()
        assert not set(report["feature"]) & CALENDAR_FEATURES


def test_a_shifted_copy_is_flagged_on_what_moved(weeks: tuple[object, pd.DataFrame]) -> None:
    bundle, later = weeks
    days = sorted(later["as_of"].unique())
    week = later[later["as_of"] == days[len(days) // 2]].copy()
    # A school system where absence has doubled and household incomes have halved.
    week["absence_rate_term"] = (week["absence_rate_term"] * 2).clip(upper=1)
    week["income_per_person"] = week["income_per_person"] / 2

    report = drift_report(bundle, week)  # type: ignore[arg-type]
    moved = set(report.loc[report["status"] == "moved", "feature"])

    assert moved == {"absence_rate_term", "income_per_person"}


def test_counts_of_parts_add_up_to_the_whole_runs_report(
    weeks: tuple[object, pd.DataFrame],
) -> None:
    bundle, later = weeks
    week = later[later["as_of"] == sorted(later["as_of"].unique())[3]]
    schools = sorted(week["school_id"].unique())
    parts = [week[week["school_id"].isin(schools[i::3])] for i in range(3)]

    summed = compare(bundle, pd.concat([input_counts(bundle, p) for p in parts]))  # type: ignore[arg-type]
    whole = drift_report(bundle, week)  # type: ignore[arg-type]

    pd.testing.assert_frame_equal(summed, whole)


def test_the_week_a_term_ends_is_not_judged() -> None:
    """The reference year's last week of term held only its last day, after the final
    grades had left; a year later the same week is the day before the end, with them
    (and their last weeks' absences). Compared with that partial week, the grade mix
    seemed to move (PSI 0.44, 'moved', on the demo's last week); compared with the week
    before, the absences did (1.2). Neither is a change in the students."""
    grades = np.arange(20, dtype=float)
    graduating = [8.0, 11.0, 14.0, 17.0, 19.0]  # P6, M3, M6, V3, H2
    start = pd.Timestamp("2024-11-01")
    weeks = []
    for week in range(22):
        present = grades if week < 21 else np.setdiff1d(grades, graduating)
        weeks.append(
            pd.DataFrame(
                {
                    "as_of": start + pd.Timedelta(days=7 * week),
                    "term_start": start,
                    "term": 2,
                    "grade_level_order": np.tile(present, 30),
                    # 1 for P6 and M3: none left on the last day, so no values to bin.
                    "transition_grade": np.isin(np.tile(present, 30), [8.0, 11.0]).astype(float),
                }
            )
        )
    reference = pd.concat(weeks, ignore_index=True)
    features = ["grade_level_order", "transition_grade"]
    bundle = SimpleNamespace(distribution=feature_distribution(reference, features))
    # A year later, the same week of term with every grade still there.
    ending = weeks[20].assign(as_of=start + pd.Timedelta(days=7 * 21))
    shifted = weeks[20].assign(grade_level_order=lambda f: f["grade_level_order"] // 4)

    assert drift_report(bundle, ending).empty  # type: ignore[arg-type]
    judged = drift_report(bundle, shifted)  # type: ignore[arg-type]
    assert judged.set_index("feature").loc["grade_level_order", "status"] == "moved"
