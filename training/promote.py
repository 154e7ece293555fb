"""``ews promote``: move ``champion`` to the challenger only when it is at least as good.

Both models are scored on the same rows: the challenger's test period (its latest
mature term), rebuilt from the current data. The challenger must match or beat the
champion's precision at the top 10% and add no fairness flag the champion lacks.
``--force`` promotes anyway and records who and why on the version.
"""

from __future__ import annotations

import getpass
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
import sqlalchemy as sa

from core.settings import Settings
from features.sources import Sources
from riskmodel.bundle import BundleError, ModelBundle
from riskmodel.registry import CHALLENGER, CHAMPION, fetch_bundle
from training.config import FairnessConfig, TrainConfig
from training.evaluate import evaluate
from training.fairness import fairness_audit, flags
from training.labels import LabelRules
from training.matrix import build_training_matrix, weekly_as_of_dates
from training.tracking import configure_tracking


@dataclass
class Decision:
    promoted: bool
    challenger_version: str
    champion_version: str | None
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, dict[str, object]] = field(default_factory=dict)


def score_on_period(
    bundle: ModelBundle, rows: pd.DataFrame, fairness: FairnessConfig
) -> dict[str, object]:
    """Precision at the top 10% and fairness flags of one model on the given rows."""
    raw = bundle.raw_score(rows)
    labels = rows["label"].to_numpy()
    metrics = evaluate(
        labels, bundle.calibration.apply(raw), raw, rows[["as_of", "school_id"]], [0.10]
    )
    audit = fairness_audit(rows, labels, raw, fairness)
    return {
        "precision_at_10": metrics["precision_at_10"],
        "pr_auc": metrics["pr_auc"],
        "flags": flags(audit),
    }


def held_out_rows(sources: Sources, bundle: ModelBundle) -> pd.DataFrame:
    """The mature rows of the bundle's test period, rebuilt from the current data."""
    split = bundle.metadata["split"]
    rules = LabelRules(int(bundle.metadata["horizon_days"]))
    dates = weekly_as_of_dates(
        sources, pd.Timestamp(split["test_from"]), pd.Timestamp(split["test_until"])
    )
    matrix = build_training_matrix(sources, rules, dates)
    return matrix[matrix["mature"].astype(bool)].reset_index(drop=True)


def promote(
    settings: Settings, engine: sa.Engine, force: bool = False, reason: str | None = None
) -> Decision:
    """Compare challenger with champion and move the alias when the challenger earns it."""
    if force and not (reason and reason.strip()):
        raise ValueError("--force needs --reason saying why")
    configure_tracking(settings)
    client = mlflow.MlflowClient()
    with tempfile.TemporaryDirectory() as folder:
        challenger, challenger_version = fetch_bundle(
            settings.model_name, CHALLENGER, Path(folder) / "c"
        )
        try:
            champion, champion_version = fetch_bundle(
                settings.model_name, CHAMPION, Path(folder) / "p"
            )
        except BundleError:
            champion, champion_version = None, None
    decision = Decision(
        False,
        str(challenger_version.version),
        str(champion_version.version) if champion_version else None,
    )
    if champion is None:
        decision.reasons.append("no champion yet: the first model becomes champion")
        decision.promoted = True
    elif champion_version.version == challenger_version.version:
        decision.reasons.append(f"version {challenger_version.version} is already the champion")
        return decision
    else:
        rows = held_out_rows(Sources.from_database(engine), challenger)
        fairness = TrainConfig.load().fairness
        new = score_on_period(challenger, rows, fairness)
        try:
            old = score_on_period(champion, rows, fairness)
        except BundleError as error:
            old = {"precision_at_10": float("-inf"), "pr_auc": float("nan"), "flags": []}
            decision.reasons.append(f"the champion cannot score today's features ({error})")
        decision.scores = {"challenger": new, "champion": old}
        better = float(new["precision_at_10"]) >= float(old["precision_at_10"])  # type: ignore[arg-type]
        added = sorted(_groups(new["flags"]) - _groups(old["flags"]))  # type: ignore[arg-type]
        decision.reasons.append(
            f"precision at top 10%: challenger {new['precision_at_10']:.4f} vs champion "
            f"{old['precision_at_10']:.4f} on {len(rows):,} rows of the same test period"
        )
        if not better:
            decision.reasons.append("the challenger is worse on precision at the top 10%")
        if added:
            decision.reasons.append(f"the challenger adds fairness flags: {', '.join(added)}")
        decision.promoted = better and not added
    if not decision.promoted and force:
        decision.reasons.append(f"forced by {getpass.getuser()}: {reason}")
        decision.promoted = True
    if decision.promoted:
        version = decision.challenger_version
        client.set_registered_model_alias(settings.model_name, CHAMPION, version)
        tags = {
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "promoted_by": getpass.getuser(),
            "forced": str(bool(force and reason)).lower(),
        }
        if force:
            tags["promotion_reason"] = str(reason)
        for key, value in tags.items():
            client.set_model_version_tag(settings.model_name, version, key, value)
    return decision


def _groups(flagged: list[str]) -> set[str]:
    """``attribute=group`` of each flag, without the metric list."""
    return {f.split(" (")[0] for f in flagged}
