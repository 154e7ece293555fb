"""The model bundle: what training writes and serving reads, with no pickle anywhere.

A bundle is a folder of models and JSON side files (feature list, calibration, catalog,
tier policy, training distribution), listed with their SHA-256 in ``manifest.json``.
Training writes it and serving reads it; neither needs the other's code.

Its model is one of three kinds (``metadata["kind"]``): a LightGBM text model
(``lightgbm``), a logistic regression's numbers in JSON (``logistic``,
``riskmodel.linear``) or the ABC rule's thresholds in JSON (``abc_rule``,
``riskmodel.rules``): training registers whichever ranked best and passed the guards.

It holds two models. The **served** model is refit on every mature row, so it is as fresh
as the data. The **evaluation** model is the same configuration fitted only on rows whose
outcome was known before the test period; its test metrics are the ones reported, and
promotion compares it with the champion on that period.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import pandas as pd

from riskmodel.linear import LinearModel
from riskmodel.rules import ABCRule

if TYPE_CHECKING:  # imported where a booster is made: a second of a scoring worker's start
    import lightgbm as lgb

Model: TypeAlias = "lgb.Booster | LinearModel | ABCRule"

MODEL_FILE = "model.txt"
EVALUATION_MODEL_FILE = "evaluation_model.txt"
# A logistic model's or the rule's numbers: the same two roles as the LightGBM files.
JSON_MODEL_FILE = "model.json"
JSON_EVALUATION_MODEL_FILE = "evaluation_model.json"
KINDS = ("lightgbm", "logistic", "abc_rule")
FEATURES_FILE = "features.json"
CALIBRATION_FILE = "calibration.json"
CATALOG_FILE = "catalog.json"
METADATA_FILE = "metadata.json"
DISTRIBUTION_FILE = "feature_distribution.json"
MANIFEST_FILE = "manifest.json"
SIDE_FILES = (FEATURES_FILE, CALIBRATION_FILE, CATALOG_FILE, METADATA_FILE, DISTRIBUTION_FILE)
TIERS = ("high", "watch", "low")
FLAGGED = TIERS[:2]  # the tiers on a list: a student there needs an adult's attention


class BundleError(Exception):
    """A bundle is missing, incomplete or does not match its manifest."""


# Past the last step of the calibration, a risk goes at most this share of the way from
# that step's rate to certainty (past the first, down towards 0).
TAIL_SHARE = 0.25


@dataclass(frozen=True)
class Calibration:
    """Isotonic map from the raw score (log-odds) to the probability of leaving.

    Between its steps the map runs straight; past the first and the last it keeps rising
    a little with the score (at most ``TAIL_SHARE`` of the way to 0 or to certainty, over
    a step's width), so that students past the last step, where a list's first places
    are, still show different risks: equal risks would share a tier, and a school's
    first places could all be left out.
    """

    raw_points: list[float]
    probabilities: list[float]

    def apply(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        risk = np.asarray(np.interp(raw, self.raw_points, self.probabilities))
        if len(self.raw_points) < 2:
            return risk
        first, last = self.raw_points[0], self.raw_points[-1]
        width = (last - first) / (len(self.raw_points) - 1)  # a step's width
        if not width > 0:  # steps at one score: nothing to run past
            return risk
        low, high = self.probabilities[0], self.probabilities[-1]
        above, below = raw > last, raw < first
        # 1 - exp(-d) runs from 0 to 1 as the distance d past the step grows.
        risk[above] = high + TAIL_SHARE * (1 - high) * -np.expm1(-(raw[above] - last) / width)
        risk[below] = low - TAIL_SHARE * low * -np.expm1(-(first - raw[below]) / width)
        return risk

    def to_json(self) -> dict[str, list[float]]:
        return {"raw_points": self.raw_points, "probabilities": self.probabilities}

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> Calibration:
        return cls(list(content["raw_points"]), list(content["probabilities"]))


@dataclass(frozen=True)
class SeasonalCalibration:
    """One calibration per term number (the share who leave differs by season), and one
    over every term for a row whose term is unknown or had too few students to fit."""

    overall: Calibration
    by_term: dict[str, Calibration] = field(default_factory=dict)

    def apply(self, raw: np.ndarray, terms: np.ndarray | None = None) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        risk = self.overall.apply(raw)
        if terms is None:
            return risk
        terms = np.asarray(terms)
        for term, calibration in self.by_term.items():
            chosen = terms.astype(str) == term
            if chosen.any():
                risk[chosen] = calibration.apply(raw[chosen])
        return risk

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "isotonic on raw score, per term where enough students left",
            "overall": self.overall.to_json(),
            "by_term": {k: v.to_json() for k, v in self.by_term.items()},
        }

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> SeasonalCalibration:
        return cls(
            Calibration.from_json(content["overall"]),
            {k: Calibration.from_json(v) for k, v in content.get("by_term", {}).items()},
        )


@dataclass(frozen=True)
class TierPolicy:
    """Tiers by risk and by what a school can act on.

    In a weekly list a student is ``high`` when their risk is at least ``high_floor`` and
    they are among the ``high_share`` of their school's students ranked first (the
    school's capacity for close follow-up); ``watch`` (if not high) when their risk is at
    least ``floor`` and they are among the first ``watch_share``. A school where few are
    at risk shows few, one where none are shows none, and one with many shows up to its
    capacity. Students with the same risk share a tier: when the first student past a
    school's capacity has the same risk as some within it, all of them are left out, so a
    riskier student is never in a lower tier than a less risky one of the same school. A
    score without its school's list (one student, or feature rows) uses the global
    ``high_risk`` and ``watch_risk`` cut-offs (at least the floors) instead.
    """

    high_share: float
    watch_share: float
    floor: float
    high_risk: float
    watch_risk: float
    high_floor: float = 0.0  # 0: the same as ``floor`` (bundles made before it existed)

    @property
    def high_level(self) -> float:
        return max(self.high_floor, self.floor)

    def by_rank(
        self,
        risk: np.ndarray,
        rank: np.ndarray,
        school_size: np.ndarray,
        school: np.ndarray | None = None,
        ties: np.ndarray | None = None,
    ) -> np.ndarray:
        """Tiers within schools from each student's risk, rank (1 = highest), school size
        and school (any labels; None: one school). ``ties``: the values whose equality
        makes students share a tier, when not the risk (a rule's flags with its
        tie-break)."""
        school = np.zeros(len(risk), dtype=int) if school is None else np.asarray(school)
        order = risk if ties is None else ties
        high_places = np.maximum(1, np.floor(self.high_share * school_size))
        watch_places = np.maximum(1, np.floor(self.watch_share * school_size))
        high = (
            (risk >= self.high_level)
            & (rank <= high_places)
            & (order > _first_left_out(order, rank, high_places, school))
        )
        watch = (
            (risk >= self.floor)
            & (rank <= watch_places)
            & (order > _first_left_out(order, rank, watch_places, school))
        )
        return np.where(high, "high", np.where(watch, "watch", "low"))

    def by_risk(self, risk: np.ndarray) -> np.ndarray:
        """Tiers from the global cut-offs, for a score outside a weekly list."""
        return np.where(
            risk >= max(self.high_risk, self.high_level),
            "high",
            np.where(risk >= max(self.watch_risk, self.floor), "watch", "low"),
        )

    def to_json(self) -> dict[str, float]:
        return {
            "high_share": self.high_share,
            "watch_share": self.watch_share,
            "floor": self.floor,
            "high_risk": self.high_risk,
            "watch_risk": self.watch_risk,
            "high_floor": self.high_floor,
        }

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> TierPolicy:
        return cls(
            **{
                k: float(content[k])
                for k in cls.__dataclass_fields__
                if k in content or k != "high_floor"
            }
        )


def _first_left_out(
    risk: np.ndarray, rank: np.ndarray, places: np.ndarray, school: np.ndarray
) -> np.ndarray:
    """Each student's school's risk of its first student past ``places`` (-inf: none)."""
    past = rank == places + 1
    first = pd.Series(risk[past], index=school[past])
    first = first[~first.index.duplicated()]
    found = pd.Series(school).map(first).to_numpy(dtype=float)
    return np.where(np.isnan(found), -np.inf, found)


@dataclass(frozen=True)
class HeldOutModel:
    """The evaluation model: fitted only on outcomes known before ``observed_until``."""

    model: Model
    calibration: SeasonalCalibration
    observed_until: str


@dataclass(frozen=True)
class ModelBundle:
    """A trained model ready to score: model, inputs, calibration and metadata."""

    model: Model
    features: list[str]
    calibration: SeasonalCalibration
    catalog: dict[str, dict[str, Any]]
    tiers: TierPolicy
    metadata: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] = field(default_factory=dict)
    evaluation: HeldOutModel | None = None

    @property
    def kind(self) -> str:
        """``lightgbm``, ``logistic`` or ``abc_rule``."""
        return str(self.metadata.get("kind", "lightgbm"))

    def raw_score(self, rows: pd.DataFrame, model: Model | None = None) -> np.ndarray:
        """The raw score (log-odds; the rule's count) for rows holding the model's inputs."""
        return raw_scores(model if model is not None else self.model, self.matrix(rows))

    def risk(self, rows: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of leaving within the horizon (by the rows' term)."""
        terms = rows["term"].to_numpy() if "term" in rows else None
        return self.calibration.apply(self.raw_score(rows), terms)

    def matrix(self, rows: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in rows.columns]
        if missing:
            raise BundleError(f"rows lack model inputs: {', '.join(missing)}")
        return rows[self.features].to_numpy(dtype=float)

    def inputs_built_otherwise(self, built: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """The model's inputs that ``built`` (the catalog of the running version's feature
        pipeline) lacks, or builds in another unit or with other levels: a model trained
        by an earlier version that this one cannot feed the way it learned."""
        changed = []
        for name in self.features:
            now, then = built.get(name), self.catalog.get(name, {})
            if now is None or any(
                key in then and _as_tuple(then[key]) != _as_tuple(now.get(key))
                for key in ("unit", "levels_en")
            ):
                changed.append(name)
        return changed

    def without_trees(self) -> ModelBundle:
        """This bundle without its LightGBM boosters, for a worker that explains with
        tables built from them (``riskmodel.treeshap``): unpickling a booster imports
        LightGBM, which the worker then never calls."""
        if self.kind != "lightgbm":
            return self
        return replace(self, model=cast("lgb.Booster", TreesLeftBehind()), evaluation=None)

    @property
    def observed_until(self) -> str:
        """The last date whose outcomes the served model learned from."""
        return str(self.metadata.get("observed_until", ""))

    def save(self, directory: Path) -> Path:
        """Write the bundle and its manifest; returns the folder."""
        directory.mkdir(parents=True, exist_ok=True)
        models = [_save_model(self.model, directory, served=True)]
        calibration: dict[str, Any] = {"served": self.calibration.to_json()}
        metadata = dict(self.metadata) | {"tier_policy": self.tiers.to_json(), "kind": self.kind}
        if self.evaluation is not None:
            models.append(_save_model(self.evaluation.model, directory, served=False))
            calibration["evaluation"] = self.evaluation.calibration.to_json()
            metadata["evaluation_observed_until"] = self.evaluation.observed_until
        side = {
            FEATURES_FILE: {"features": self.features},
            CALIBRATION_FILE: calibration,
            CATALOG_FILE: self.catalog,
            METADATA_FILE: metadata,
            DISTRIBUTION_FILE: self.distribution,
        }
        for name, content in side.items():
            (directory / name).write_text(
                json.dumps(_finite(content), ensure_ascii=False, indent=1), encoding="utf-8"
            )
        manifest = {name: _sha256(directory / name) for name in (*models, *SIDE_FILES)}
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        """Load a bundle after checking every file against the manifest.

        Raises:
            BundleError: a file is missing or its SHA-256 differs from the manifest.
        """
        manifest_path = directory / MANIFEST_FILE
        if not manifest_path.exists():
            raise BundleError(f"no {MANIFEST_FILE} in {directory}: not a model bundle")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        served = MODEL_FILE if MODEL_FILE in manifest else JSON_MODEL_FILE
        for name in (served, *SIDE_FILES, *(set(manifest) - {served, *SIDE_FILES})):
            path = directory / name
            if not path.exists():
                raise BundleError(f"model bundle lacks {name}")
            if manifest.get(name) != _sha256(path):
                raise BundleError(
                    f"{name} does not match its SHA-256 in the manifest: refusing to load"
                )
        side = {
            name: json.loads((directory / name).read_text(encoding="utf-8")) for name in SIDE_FILES
        }
        metadata = side[METADATA_FILE]
        calibration = side[CALIBRATION_FILE]
        evaluation = None
        held_out = [f for f in (EVALUATION_MODEL_FILE, JSON_EVALUATION_MODEL_FILE) if f in manifest]
        if held_out:
            evaluation = HeldOutModel(
                _load_model(directory / held_out[0]),
                SeasonalCalibration.from_json(calibration["evaluation"]),
                str(metadata.get("evaluation_observed_until", "")),
            )
        return cls(
            model=_load_model(directory / served),
            features=list(side[FEATURES_FILE]["features"]),
            calibration=SeasonalCalibration.from_json(calibration["served"]),
            catalog=side[CATALOG_FILE],
            tiers=TierPolicy.from_json(metadata["tier_policy"]),
            metadata=metadata,
            distribution=side[DISTRIBUTION_FILE],
            evaluation=evaluation,
        )


class TreesLeftBehind:
    """Where a bundle sent to a worker had its booster (``ModelBundle.without_trees``)."""

    def __getattr__(self, name: str) -> Any:
        raise BundleError(
            f"this copy of the model was sent without its LightGBM trees (it explains with "
            f"tables built from them), so it has no {name!r}: load the bundle to use them"
        )

    def __reduce__(self) -> tuple[type[TreesLeftBehind], tuple[()]]:
        return TreesLeftBehind, ()


def raw_scores(model: Model, matrix: np.ndarray) -> np.ndarray:
    """Any kind of model's raw score for a matrix of its inputs."""
    if isinstance(model, LinearModel | ABCRule):
        return model.raw_scores(matrix)
    return np.asarray(model.predict(matrix, raw_score=True), dtype=float)


def _save_model(model: Model, directory: Path, served: bool) -> str:
    if isinstance(model, LinearModel | ABCRule):
        name = JSON_MODEL_FILE if served else JSON_EVALUATION_MODEL_FILE
        (directory / name).write_text(json.dumps(model.to_json(), indent=1), encoding="utf-8")
        return name
    name = MODEL_FILE if served else EVALUATION_MODEL_FILE
    model.save_model(str(directory / name), num_iteration=-1)
    return name


def _load_model(path: Path) -> Model:
    if path.suffix == ".json":
        content = json.loads(path.read_text(encoding="utf-8"))
        if content.get("kind") == "logistic":
            return LinearModel.from_json(content)
        if content.get("kind") == "abc_rule":
            return ABCRule.from_json(content)
        raise BundleError(f"{path.name} holds no model this version can read")
    import lightgbm as lgb

    return lgb.Booster(model_str=path.read_text(encoding="utf-8"))


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def _finite(content: Any) -> Any:
    """JSON has no NaN: missing figures are written as null."""
    if isinstance(content, dict):
        return {k: _finite(v) for k, v in content.items()}
    if isinstance(content, list | tuple):
        return [_finite(v) for v in content]
    if isinstance(content, float) and not math.isfinite(content):
        return None
    return content


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
