"""What scores for serving: the registered champion, or the ABC rule until there is one.

No pickle and no MLflow model loader: the registry is only asked which run holds the
champion, and that run's bundle files are downloaded and verified. A school that has
just started has no champion (too little history to train, or every model refused by
the guards): its lists are ranked by the ABC rule (``riskmodel.rules``), labelled as
such, until the first sound model is promoted; the next weekly run uses it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import mlflow

from core.settings import Settings
from features.catalog import catalog
from riskmodel.bundle import BundleError, Calibration, ModelBundle, SeasonalCalibration, TierPolicy
from riskmodel.registry import CHAMPION, NoVersion, fetch_bundle
from riskmodel.rules import RULE_INPUTS, RULE_VERSION, TIEBREAK, ABCRule, RuleThresholds

log = logging.getLogger(__name__)
# The rule's tiers: as a model's, at most 5% of a school "high" and 15% flagged, and only
# students with at least one flag (two for "high" when scored outside a list).
HIGH_SHARE, WATCH_SHARE = 0.05, 0.15
RULE_TOP = 3 + TIEBREAK


class ModelUnavailable(RuntimeError):
    """The champion's files fail their checks: refusing to serve them."""


def load_champion(settings: Settings, cache_dir: Path) -> tuple[ModelBundle, str]:
    """Fetch, verify and load the champion; returns the bundle and its version.

    Raises:
        ModelUnavailable: no champion is registered, or its files fail the checks.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    try:
        bundle, version = fetch_bundle(settings.model_name, CHAMPION, cache_dir)
    except BundleError as error:
        raise ModelUnavailable(
            f"cannot serve: {error}. Train and promote a model first (ews train, ews promote)."
        ) from error
    return bundle, str(version.version)


def load_scorer_bundle(settings: Settings, cache_dir: Path) -> tuple[ModelBundle, str]:
    """The champion, or the ABC rule when no champion is registered yet.

    A champion whose files fail their checks is not replaced by the rule: that is
    tampering or a broken store, and serving stops (``ModelUnavailable``)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    try:
        bundle, version = fetch_bundle(settings.model_name, CHAMPION, cache_dir)
    except NoVersion:
        log.warning(
            "no champion registered: lists are ranked by the ABC rule until a model is "
            "promoted (ews train, ews promote)"
        )
        return rule_bundle(settings), RULE_VERSION
    except BundleError as error:
        raise ModelUnavailable(f"cannot serve: {error}") from error
    return bundle, str(version.version)


def rule_bundle(settings: Settings) -> ModelBundle:
    """The ABC rule as a bundle: its "risk" is the share of the three flags raised (not a
    probability: no outcome has calibrated it), and ``metadata["calibrated"]`` says so."""
    thresholds = RuleThresholds(
        absence_rate_term=settings.abc_absence_rate,
        absent_days_20d=settings.abc_absent_days_20d,
        sdq_total=settings.abc_sdq_total,
        gpa_last_term=settings.abc_gpa_below,
    )
    one_flag, two_flags = 1 / RULE_TOP, 2 / RULE_TOP
    return ModelBundle(
        model=ABCRule(thresholds),
        features=list(RULE_INPUTS),
        calibration=SeasonalCalibration(Calibration([0.0, RULE_TOP], [0.0, 1.0])),
        catalog={f: dataclasses.asdict(spec) for f, spec in catalog().items()},
        tiers=TierPolicy(HIGH_SHARE, WATCH_SHARE, one_flag, two_flags, one_flag, two_flags),
        metadata={"kind": "abc_rule", "calibrated": False, "thresholds": thresholds.to_json()},
    )
