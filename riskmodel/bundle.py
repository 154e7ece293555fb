"""The model bundle: what training writes and serving reads, with no pickle anywhere.

A bundle is a folder of a LightGBM text model and JSON side files (feature list,
calibration, catalog, tier thresholds, training distribution), listed with their SHA-256
in ``manifest.json``. Training writes it and serving reads it; neither needs the other's code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

MODEL_FILE = "model.txt"
FEATURES_FILE = "features.json"
CALIBRATION_FILE = "calibration.json"
CATALOG_FILE = "catalog.json"
METADATA_FILE = "metadata.json"
DISTRIBUTION_FILE = "feature_distribution.json"
MANIFEST_FILE = "manifest.json"
SIDE_FILES = (FEATURES_FILE, CALIBRATION_FILE, CATALOG_FILE, METADATA_FILE, DISTRIBUTION_FILE)


class BundleError(Exception):
    """A bundle is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True)
class Calibration:
    """Isotonic map from the raw score (log-odds) to the probability of leaving."""

    raw_points: list[float]
    probabilities: list[float]

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(
            np.interp(np.asarray(raw, dtype=float), self.raw_points, self.probabilities)
        )


@dataclass(frozen=True)
class ModelBundle:
    """A trained model ready to score: booster, inputs, calibration and metadata."""

    booster: lgb.Booster
    features: list[str]
    calibration: Calibration
    catalog: dict[str, dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] = field(default_factory=dict)

    def raw_score(self, rows: pd.DataFrame) -> np.ndarray:
        """Log-odds of leaving for rows holding the model's input columns."""
        return np.asarray(self.booster.predict(self.matrix(rows), raw_score=True), dtype=float)

    def risk(self, rows: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of leaving within the horizon."""
        return self.calibration.apply(self.raw_score(rows))

    def matrix(self, rows: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in rows.columns]
        if missing:
            raise BundleError(f"rows lack model inputs: {', '.join(missing)}")
        return rows[self.features].to_numpy(dtype=float)

    def tier(self, risk: np.ndarray) -> np.ndarray:
        """``high``, ``watch`` or ``low`` by the thresholds chosen at training."""
        high = float(self.metadata["tier_thresholds"]["high"])
        watch = float(self.metadata["tier_thresholds"]["watch"])
        return np.where(risk >= high, "high", np.where(risk >= watch, "watch", "low"))

    def save(self, directory: Path) -> Path:
        """Write the bundle and its manifest; returns the folder."""
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / MODEL_FILE), num_iteration=-1)
        side = {
            FEATURES_FILE: {"features": self.features},
            CALIBRATION_FILE: {
                "method": "isotonic on raw score",
                "raw_points": self.calibration.raw_points,
                "probabilities": self.calibration.probabilities,
            },
            CATALOG_FILE: self.catalog,
            METADATA_FILE: self.metadata,
            DISTRIBUTION_FILE: self.distribution,
        }
        for name, content in side.items():
            (directory / name).write_text(
                json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        manifest = {name: _sha256(directory / name) for name in (MODEL_FILE, *SIDE_FILES)}
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
        for name in (MODEL_FILE, *SIDE_FILES):
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
        booster = lgb.Booster(model_str=(directory / MODEL_FILE).read_text(encoding="utf-8"))
        calibration = side[CALIBRATION_FILE]
        return cls(
            booster=booster,
            features=list(side[FEATURES_FILE]["features"]),
            calibration=Calibration(calibration["raw_points"], calibration["probabilities"]),
            catalog=side[CATALOG_FILE],
            metadata=side[METADATA_FILE],
            distribution=side[DISTRIBUTION_FILE],
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
