"""What the analyst's pages read from MLflow: the champion and the challenger side by
side, their plots and fairness tables, and the history of promotions.

Only the registry, run metrics, tags and the run's own report files are read; no student
data is in any of them (training logs no identifier). Registry answers are kept for a
minute and the run's files (a few small tables and plots) in memory for the life of the
process, so a page costs one look-up and nothing is left on disk when a worker dies.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from core.settings import Settings
from riskmodel.benefit import BENEFIT_FILE, VisitBenefit
from riskmodel.registry import (
    CHALLENGER,
    CHAMPION,
    EFFECTS_EXPERIMENT,
    EFFECTS_FILE,
    PROMOTIONS_EXPERIMENT,
)

SCORERS = ("model", "logistic", "abc_rule")
METRICS = (
    "found_8w",
    "found_4w",
    "median_lead_weeks",
    "roc_auc",
    "pr_auc",
    "precision_at_capacity_school",
    "recall_at_capacity_school",
    "brier",
    "ece",
)
PLOTS_EN = ("calibration.png", "precision_at_k.png", "precision_recall.png", "shap_summary.png")
# Each also in Thai (``training.model_card.in_languages``; runs before it have English only).
PLOTS = (*PLOTS_EN, *(name.replace(".png", ".th.png") for name in PLOTS_EN))
FAIRNESS_FILE = "fairness.csv"
FOUND_FILE = "found_in_time.csv"
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class VersionReport:
    version: str
    run_id: str
    aliases: tuple[str, ...]
    created: datetime  # UTC
    shape: str | None
    trees: str | None
    split: dict[str, str]
    metrics: dict[str, dict[str, float]]  # metric -> scorer -> value
    intervals: dict[str, tuple[float, float]]  # "model.metric" -> (low, high)
    guard_problems: str
    fairness_flags: str

    @property
    def guard_list(self) -> list[str]:
        """The guards' problems (a JSON list in the run's tags)."""
        return _json_list(self.guard_problems)

    @property
    def flag_list(self) -> list[str]:
        """The fairness flags (a JSON list in the run's tags)."""
        return _json_list(self.fairness_flags)


def _json_list(text: str) -> list[str]:
    try:
        found = json.loads(text or "[]")
    except ValueError:
        return [text]
    return [str(item) for item in found] if isinstance(found, list) else [str(found)]


@dataclass(frozen=True)
class ModelReport:
    champion: VersionReport | None
    challenger: VersionReport | None
    promotions: list[dict[str, Any]] = field(default_factory=list)


class ModelReports:
    """Reads the registry of one tracking store, with a short cache."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: tuple[float, ModelReport] | None = None
        self._files: dict[tuple[str, str], bytes] = {}
        self._benefit: tuple[float, VisitBenefit | None, str | None] | None = None

    def _client(self) -> mlflow.MlflowClient:
        return mlflow.MlflowClient(tracking_uri=self.settings.mlflow_tracking_uri)

    def report(self) -> ModelReport:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            champion, challenger = self._version(CHAMPION), self._version(CHALLENGER)
            if challenger is not None and champion is not None:
                if challenger.version == champion.version:
                    challenger = None  # promoted: nothing is waiting
            report = ModelReport(champion, challenger, self._promotions())
            self._cached = (time.monotonic(), report)
            return report

    def _version(self, alias: str) -> VersionReport | None:
        client = self._client()
        try:
            version = client.get_model_version_by_alias(self.settings.model_name, alias)
        except MlflowException:
            return None
        run = client.get_run(str(version.run_id))
        values = run.data.metrics
        metrics = {
            metric: {s: values[f"{s}.{metric}"] for s in SCORERS if f"{s}.{metric}" in values}
            for metric in METRICS
        }
        intervals = {
            name: (values[f"{name}.low"], values[f"{name}.high"])
            for name in {k.rsplit(".", 1)[0] for k in values if k.endswith(".low")}
            if f"{name}.high" in values
        }
        params, tags = run.data.params, run.data.tags
        return VersionReport(
            version=str(version.version),
            run_id=str(version.run_id),
            aliases=tuple(version.aliases or ()),
            created=_utc(version.creation_timestamp),
            shape=params.get("model.shape"),
            trees=params.get("model.chosen_trees"),
            split={
                k.removeprefix("split."): v for k, v in params.items() if k.startswith("split.")
            },
            metrics={m: v for m, v in metrics.items() if v},
            intervals=intervals,
            guard_problems=tags.get("guard_problems", "[]"),
            fairness_flags=tags.get("fairness_flags", "[]"),
        )

    def _promotions(self) -> list[dict[str, Any]]:
        client = self._client()
        experiment = client.get_experiment_by_name(PROMOTIONS_EXPERIMENT)
        if experiment is None:
            return []
        runs = client.search_runs(
            [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=50
        )
        return [
            {
                "when": _utc(run.info.start_time),
                "challenger": run.data.params.get("challenger_version"),
                "champion": _version_param(run.data.params.get("champion_version")),
                "decision": run.data.tags.get("decision"),
                "forced": run.data.tags.get("forced") == "true",
                "reasons": _reasons(run.data.tags.get("reasons", "")),
                "by": run.data.params.get("decided_by"),
            }
            for run in runs
        ]

    def file(self, run_id: str, name: str) -> bytes | None:
        """One of the run's report files (plots, fairness tables), downloaded once."""
        if name not in (*PLOTS, FAIRNESS_FILE, FOUND_FILE, EFFECTS_FILE, BENEFIT_FILE):
            return None
        with self._lock:
            kept = self._files.get((run_id, name))
        if kept is not None:
            return kept
        artifact = f"plots/{name}" if name.endswith(".png") else name
        with tempfile.TemporaryDirectory(prefix="ews-model-report-") as folder:
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id,
                    artifact_path=artifact,
                    dst_path=folder,
                    tracking_uri=self.settings.mlflow_tracking_uri,
                )
                data = Path(path).read_bytes()
            except (MlflowException, OSError):
                return None
        with self._lock:
            self._files[(run_id, name)] = data
        return data

    def effects(self) -> tuple[pd.DataFrame, datetime | None]:
        """The newest table of intervention effects (``ews effects``) and when it was made."""
        experiment = self._client().get_experiment_by_name(EFFECTS_EXPERIMENT)
        if experiment is None:
            return pd.DataFrame(), None
        runs = self._client().search_runs(
            [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
        )
        if not runs:
            return pd.DataFrame(), None
        run = runs[0]
        data = self.file(run.info.run_id, EFFECTS_FILE)
        if data is None:
            return pd.DataFrame(), None
        try:
            table = pd.read_csv(io.BytesIO(data))
        except pd.errors.EmptyDataError:  # a run that estimated nothing
            table = pd.DataFrame()
        return table.astype(object).where(table.notna(), None), _utc(run.info.start_time)

    def visit_benefit(self, fresh: bool = False) -> tuple[VisitBenefit | None, str | None]:
        """The newest effects run's home-visit benefit model (None when it made none),
        and what that run said of it; looked up at most once a minute unless ``fresh``
        (the analyst's page, which then renews what the plans use)."""
        with self._lock:
            cached = self._benefit
            if not fresh and cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1], cached[2]
        found = self._newest_benefit()
        with self._lock:
            self._benefit = (time.monotonic(), *found)
        return found

    def _newest_benefit(self) -> tuple[VisitBenefit | None, str | None]:
        client = self._client()
        experiment = client.get_experiment_by_name(EFFECTS_EXPERIMENT)
        if experiment is None:
            return None, None
        runs = client.search_runs(
            [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
        )
        if not runs:
            return None, None
        run = runs[0]
        why = run.data.tags.get("benefit_order")
        data = self.file(run.info.run_id, BENEFIT_FILE)
        if data is None:
            return None, why
        benefit = VisitBenefit.from_json(data.decode("utf-8"))
        return dataclasses.replace(benefit, run_id=run.info.run_id), why

    def fairness(self, run_id: str) -> pd.DataFrame:
        """The fairness table of a run: group, students, ratios with their intervals."""
        data = self.file(run_id, FAIRNESS_FILE)
        if data is None:
            return pd.DataFrame()
        table = pd.read_csv(io.BytesIO(data))
        return table.astype(object).where(table.notna(), None)

    def flag_notes(self, run_id: str) -> dict[str, tuple[str, str]]:
        """What each fairness flag of a run may mean, in Thai and English, by its
        ``attribute=group`` (as the run's flags begin); empty for a run logged before."""
        table = self.fairness(run_id)
        if table.empty or "meaning_en" not in table:
            return {}
        return {
            f"{r['attribute']}={r['group']}": (r["meaning_th"] or "", r["meaning_en"] or "")
            for r in table.to_dict("records")
            if r["status"] == "flag" and r["meaning_en"]
        }

    def found_in_time(self, run_id: str) -> pd.DataFrame:
        """Found in time by group of a run: students who left, the shares found 4 and 8
        weeks ahead with their intervals, the median lead (empty for a run before these
        were logged by group)."""
        data = self.file(run_id, FOUND_FILE)
        if data is None:
            return pd.DataFrame()
        table = pd.read_csv(io.BytesIO(data))
        if "share_found_8w" not in table:
            return pd.DataFrame()
        return table.astype(object).where(table.notna(), None)


def _version_param(value: str | None) -> str | None:
    """A version logged as a parameter; "None" when there was none."""
    return None if value in (None, "", "None") else value


def _reasons(tag: str) -> list[str]:
    """The promotion's reasons, stored as a JSON list (a plain string from older runs)."""
    try:
        reasons = json.loads(tag)
    except ValueError:
        return [tag] if tag else []
    return [str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)]


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _utc(milliseconds: int) -> datetime:
    """An MLflow time (milliseconds since the epoch) as a stored UTC moment."""
    return datetime.fromtimestamp(milliseconds / 1000, UTC).replace(tzinfo=None)
