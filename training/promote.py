"""``ews promote``: move ``champion`` to the challenger only when it has earned it.

A challenger is refused when its training flagged it as degenerate (``training.guards``).
Otherwise it is compared with the champion on the challenger's test period, rebuilt
from the current data, each model by its version that learned only from outcomes known
before that period. The challenger wins when it is not worse by more than a margin on
within-school precision at capacity, nor on the share of students who left found 8 or
more weeks ahead (``training.evaluate.found_in_time``), each judged by the lower end of
a bootstrap interval over students (two models that differ only by their seed are a tie,
not a loss), and adds no fairness flag the champion lacks. ``--force`` promotes anyway
and records who and why. Every decision, promoted or refused, is recorded in MLflow with
its figures.
"""

from __future__ import annotations

import getpass
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.settings import Settings
from features.catalog import catalog_entries
from features.sources import Sources
from riskmodel.bundle import BundleError, Model, ModelBundle
from riskmodel.registry import (
    CHALLENGER,
    CHAMPION,
    PROMOTIONS_EXPERIMENT,
    NoVersion,
    RegistryUnavailable,
    fetch_bundle,
)
from training.config import TrainConfig
from training.evaluate import (
    Interval,
    StudentResamples,
    capacity_places,
    flag_places,
    found_difference,
    leads,
    precision_interval,
)
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
    figures: dict[str, float] = field(default_factory=dict)
    forced: bool = False


@dataclass(frozen=True)
class Judged:
    """One model on the comparison rows."""

    flagged: np.ndarray
    precision: Interval
    flags: list[str]
    which: str  # "served" or "evaluation": which of the bundle's models was used
    leads: pd.Series  # weeks ahead each student who left was first on a home-visit plan


def held_out_rows(sources: Sources, bundle: ModelBundle) -> pd.DataFrame:
    """The mature rows of the bundle's test period, rebuilt from the current data."""
    split = bundle.metadata["split"]
    rules = LabelRules(int(bundle.metadata["horizon_days"]))
    dates = weekly_as_of_dates(
        sources, pd.Timestamp(split["test_from"]), pd.Timestamp(split["test_until"])
    )
    matrix = build_training_matrix(sources, rules, dates)
    return matrix[matrix["mature"].astype(bool)].reset_index(drop=True)


def unseen_model(bundle: ModelBundle, period_start: str) -> tuple[Model, str] | None:
    """The bundle's model that learned only from outcomes known by ``period_start``:
    the served one when it is old enough, else the evaluation one, else none."""
    if bundle.observed_until and bundle.observed_until <= period_start:
        return bundle.model, "served"
    held_out = bundle.evaluation
    if held_out is not None and held_out.observed_until <= period_start:
        return held_out.model, "evaluation"
    return None


def promote(
    settings: Settings,
    engine: sa.Engine,
    force: bool = False,
    reason: str | None = None,
    config: TrainConfig | None = None,
) -> Decision:
    """Compare challenger with champion and move the alias when the challenger earns it."""
    if force and not (reason and reason.strip()):
        raise ValueError("--force needs --reason saying why")
    config = config or TrainConfig.load()
    configure_tracking(settings)
    broken = ""
    with tempfile.TemporaryDirectory() as folder:
        challenger, challenger_version = fetch_bundle(
            settings.model_name, CHALLENGER, Path(folder) / "c"
        )
        try:
            champion, champion_version = fetch_bundle(
                settings.model_name, CHAMPION, Path(folder) / "p"
            )
        except NoVersion:
            champion, champion_version = None, None
        except RegistryUnavailable:
            raise
        except BundleError as error:  # its files fail their checks: serving has stopped
            champion, champion_version, broken = None, None, str(error)
    decision = Decision(
        False,
        str(challenger_version.version),
        str(champion_version.version) if champion_version else None,
    )
    if champion_version is not None and champion_version.version == challenger_version.version:
        decision.reasons.append(f"version {challenger_version.version} is already the champion")
        return decision
    problems = list(challenger.metadata.get("guard_problems", []))
    decision.reasons += [f"the challenger failed a guard: {p}" for p in problems]
    if champion is None:
        if not problems:
            decision.reasons.append(
                f"the champion cannot be loaded ({broken}): a sound challenger replaces it"
                if broken
                else "no champion yet: the first sound model becomes champion"
            )
            decision.promoted = True
    elif not problems:
        _compare(decision, challenger, champion, engine, config)
    if not decision.promoted and force:
        decision.reasons.append(f"forced by {getpass.getuser()}: {reason}")
        decision.promoted = decision.forced = True
    if decision.promoted:
        _move_champion(settings, decision, reason)
    _record(settings, decision, config)
    return decision


def _compare(
    decision: Decision,
    challenger: ModelBundle,
    champion: ModelBundle,
    engine: sa.Engine,
    config: TrainConfig,
) -> None:
    """Judge both on the challenger's test period and decide; reasons say why."""
    unfed = champion.inputs_built_otherwise(catalog_entries())
    if unfed:  # trained by an earlier version: serving has given way to the ABC rule
        decision.reasons.append(
            "the champion needs inputs this version no longer builds as it learned them "
            f"({', '.join(unfed)}): a sound challenger replaces it"
        )
        decision.promoted = True
        return
    period = str(challenger.metadata["split"]["test_from"])
    chosen = {
        "challenger": unseen_model(challenger, period),
        "champion": unseen_model(champion, period),
    }
    unseen = [name for name, found in chosen.items() if found is None]
    if unseen:
        decision.reasons.append(
            f"the {' and the '.join(unseen)} learned from outcomes inside the test period "
            f"(from {period}), so the two cannot be compared fairly on it"
        )
        return
    rows = held_out_rows(Sources.from_database(engine), challenger)
    labels = rows["label"].to_numpy()
    draws = StudentResamples.draw(rows["person_id"].to_numpy(), config.promotion.bootstrap)
    places = capacity_places(rows[["as_of", "school_id", "capacity"]], config.tiers.high_share)
    judged = {}
    for name, bundle in (("challenger", challenger), ("champion", champion)):
        model, which = chosen[name]  # type: ignore[misc]
        try:
            raw = bundle.raw_score(rows, model)
        except BundleError as error:
            decision.reasons.append(f"the {name} cannot score today's features ({error})")
            if name == "champion":
                decision.promoted = True
            return
        flagged = flag_places(raw, rows[["as_of", "school_id"]], places, rows=rows)
        audit = fairness_audit(rows, labels, raw, config.fairness)
        judged[name] = Judged(
            flagged,
            precision_interval(labels, flagged, draws),
            flags(audit),
            which,
            leads(rows, raw, places),
        )
    new, old = judged["challenger"], judged["champion"]
    hits = {name: (labels * j.flagged).astype(float) for name, j in judged.items()}
    difference = Interval.of(
        new.precision.estimate - old.precision.estimate,
        draws.ratio(hits["challenger"], new.flagged.astype(float))
        - draws.ratio(hits["champion"], old.flagged.astype(float)),
    )
    margin = config.promotion.margin
    in_time = found_difference(new.leads, old.leads, config.promotion.bootstrap)
    decision.figures = {
        "rows": float(len(rows)),
        "students": float(len(np.unique(rows["person_id"]))),
        "challenger.precision_at_capacity_school": new.precision.estimate,
        "champion.precision_at_capacity_school": old.precision.estimate,
        "difference": difference.estimate,
        "difference.low": difference.low,
        "difference.high": difference.high,
        "margin": margin,
        "challenger.found_8w": in_time[0],
        "champion.found_8w": in_time[1],
        "found_8w.difference": in_time[2].estimate,
        "found_8w.difference.low": in_time[2].low,
    }
    decision.reasons.append(
        f"within-school precision at capacity on {len(rows):,} rows of the same test period "
        f"({decision.figures['students']:,.0f} students): challenger {new.precision} "
        f"({new.which} model) against champion {old.precision} ({old.which} model); "
        f"difference {difference}"
    )
    not_worse = np.isfinite(difference.low) and difference.low >= -margin
    if not not_worse:
        decision.reasons.append(
            f"the challenger is worse: the lower end of the difference ({difference.low:+.4f}) "
            f"is below the margin of -{margin}"
        )
    decision.reasons.append(
        f"found 8+ weeks before leaving, of {len(new.leads):,} students who left: challenger "
        f"{in_time[0]:.4f} against champion {in_time[1]:.4f}; difference {in_time[2]}"
    )
    found_not_worse = not np.isfinite(in_time[2].low) or in_time[2].low >= -margin
    if not found_not_worse:
        decision.reasons.append(
            f"the challenger finds fewer in time: the lower end of the difference "
            f"({in_time[2].low:+.4f}) is below the margin of -{margin}"
        )
        not_worse = False
    added = sorted(_groups(new.flags) - _groups(old.flags))
    if added:
        decision.reasons.append(f"the challenger adds fairness flags: {', '.join(added)}")
    decision.promoted = bool(not_worse and not added)
    if decision.promoted:
        decision.reasons.append(
            "the challenger is not worse than the champion beyond the margin (noise included)"
        )


def _move_champion(settings: Settings, decision: Decision, reason: str | None) -> None:
    client = mlflow.MlflowClient()
    version = decision.challenger_version
    client.set_registered_model_alias(settings.model_name, CHAMPION, version)
    tags = {
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promoted_by": getpass.getuser(),
        "forced": str(decision.forced).lower(),
    }
    if decision.forced:
        tags["promotion_reason"] = str(reason)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, version, key, value)


def _record(settings: Settings, decision: Decision, config: TrainConfig) -> None:
    """Every decision, promoted or not, as a run of the promotions experiment."""
    experiment = mlflow.get_experiment_by_name(PROMOTIONS_EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mlflow.create_experiment(
            PROMOTIONS_EXPERIMENT,
            artifact_location=_artifact_location(settings),
        )
    )
    outcome = "promoted" if decision.promoted else "refused"
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{outcome}: v{decision.challenger_version} vs v{decision.champion_version}",
    ):
        mlflow.log_params(
            {
                "challenger_version": decision.challenger_version,
                "champion_version": str(decision.champion_version),
                "margin": config.promotion.margin,
                "bootstrap": config.promotion.bootstrap,
                "decided_by": getpass.getuser(),
            }
        )
        finite = {k: v for k, v in decision.figures.items() if np.isfinite(v)}
        if finite:
            mlflow.log_metrics(finite)
        mlflow.set_tags(
            {
                "decision": outcome,
                "forced": str(decision.forced).lower(),
                "reasons": json.dumps(decision.reasons, ensure_ascii=False)[:5000],
                "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    mlflow.MlflowClient().set_model_version_tag(
        settings.model_name, decision.challenger_version, "promotion_decision", outcome
    )


def _artifact_location(settings: Settings) -> str | None:
    uri = settings.mlflow_tracking_uri
    local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
    return settings.mlflow_artifact_root.resolve().as_uri() if local else None


def _groups(flagged: list[str]) -> set[str]:
    """``attribute=group`` of each flag, without the metric list."""
    return {f.split(" (")[0] for f in flagged}
