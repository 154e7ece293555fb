"""The two baselines every run is measured against: the ABC rule (``riskmodel.rules``, where
serving finds it too) and logistic regression."""

from __future__ import annotations

from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from riskmodel.rules import ABCRule

__all__ = ["ABCRule", "logistic_regression"]


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
