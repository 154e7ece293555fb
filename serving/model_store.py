"""What scores for serving: the registered champion, or the ABC rule until there is one.

No pickle and no MLflow model loader: the registry is only asked which run holds the
champion, and that run's bundle files are downloaded and verified. A school that has
just started has no champion (too little history to train, or every model refused by
the guards): its lists are ranked by the ABC rule (``riskmodel.rules``), labelled as
such, until the first sound model is promoted; the next weekly run uses it. So are the
lists of a service upgraded to a version that no longer builds the inputs its champion
learned from (a feature renamed, removed or measured in another unit), until a model
trained by the new version is promoted; that is logged as an error at every start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import mlflow

from core.settings import Settings
from features.catalog import catalog_entries
from riskmodel.bundle import BundleError, Calibration, ModelBundle, SeasonalCalibration, TierPolicy
from riskmodel.registry import CHAMPION, NoVersion, fetch_bundle
from riskmodel.rules import RULE_INPUTS, RULE_VERSION, TOP_SCORE, ABCRule, RuleThresholds

log = logging.getLogger(__name__)
# The rule's tiers: as a model's, at most 5% of a school "high" and 15% flagged, and only
# students with at least one flag (two for "high" when scored outside a list).
HIGH_SHARE, WATCH_SHARE = 0.05, 0.15


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
        why = (
            "no champion registered: lists are ranked by the ABC rule until a model is "
            "promoted (ews train, ews promote)"
        )
        log.warning(why)
        return rule_bundle(settings, why), RULE_VERSION
    except BundleError as error:
        raise ModelUnavailable(f"cannot serve: {error}") from error
    unfed = bundle.inputs_built_otherwise(catalog_entries())
    if unfed:
        # An upgrade renamed, removed or changed inputs the champion learned from: it
        # cannot rank today's students, and the schools still need their lists.
        why = (
            f"champion version {version.version} needs inputs this version of the service "
            f"no longer builds as it learned them ({', '.join(unfed)}): lists are ranked by "
            "the ABC rule until a model trained by this version is promoted (ews train, "
            "ews promote)"
        )
        log.error(why)
        return rule_bundle(settings, why), RULE_VERSION
    return bundle, str(version.version)


def rule_bundle(settings: Settings, why: str = "") -> ModelBundle:
    """The ABC rule as a bundle: its "risk" is the share of the three flags raised (not a
    probability: no outcome has calibrated it), and ``metadata["calibrated"]`` says so;
    ``metadata["why"]`` says why no model ranks."""
    thresholds = RuleThresholds(
        absence_rate_term=settings.abc_absence_rate,
        absent_days_20d=settings.abc_absent_days_20d,
        sdq_total=settings.abc_sdq_total,
        gpa_last_term=settings.abc_gpa_below,
    )
    one_flag, two_flags = 1 / TOP_SCORE, 2 / TOP_SCORE
    return ModelBundle(
        model=ABCRule(thresholds),
        features=list(RULE_INPUTS),
        calibration=SeasonalCalibration(Calibration([0.0, TOP_SCORE], [0.0, 1.0])),
        catalog=catalog_entries(),
        tiers=TierPolicy(HIGH_SHARE, WATCH_SHARE, one_flag, two_flags, one_flag, two_flags),
        metadata={
            "kind": "abc_rule",
            "calibrated": False,
            "thresholds": thresholds.to_json(),
            "why": why,
        },
    )
