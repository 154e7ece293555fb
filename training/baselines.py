"""The two baselines every run is measured against: the ABC rule and logistic regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


def abc_flags(rows: pd.DataFrame) -> pd.DataFrame:
    """The early-warning ABC flags: Attendance, Behaviour (screening), Course failure."""
    attendance = (rows["absence_rate_term"] >= 0.10) | (rows["absent_days_20d"] >= 4)
    behaviour = (
        (rows["screening_behaviour_level"] >= 1)
        | (rows["screening_overall_level"] >= 2)
        | (rows["sdq_total"] >= 17)
    )
    course = (
        (rows["failed_subjects_last_term"] >= 1)
        | (rows["not_eligible_marks_last_term"] >= 1)
        | (rows["incomplete_marks_last_term"] >= 1)
        | (rows["gpa_last_term"] < 1.5)
    )
    return pd.DataFrame(
        {"attendance": attendance, "behaviour": behaviour, "course": course}
    ).fillna(False)


class ABCRule:
    """Counts the ABC flags (0-3); ties are broken by this term's absence rate.

    Like the model and the logistic baseline, its score is mapped to a probability by a
    calibration fitted out of sample (``training.model.seasonal_calibration``), so that
    Brier scores and calibration errors compare.
    """

    def score(self, rows: pd.DataFrame) -> np.ndarray:
        count = abc_flags(rows).sum(axis=1).to_numpy(dtype=float)
        tiebreak = rows["absence_rate_term"].fillna(0).clip(0, 1).to_numpy() * 0.01
        return np.asarray(count + tiebreak)


def logistic_regression(seed: int) -> Pipeline:
    """Median-imputed (with missing indicators), standardised, L2 logistic regression.

    Its ``decision_function`` (log-odds) is calibrated out of sample like the model's raw
    score, so it is a baseline on equal terms: same rows, same inputs, same calibration.
    """
    pipeline = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=0.5, max_iter=500, random_state=seed),
    )
    pipeline.set_output(transform="pandas")
    return pipeline
