"""Load the champion for serving: LightGBM text model and JSON side files, SHA-256 checked.

No pickle and no MLflow model loader: the registry is only asked which run holds the
champion, and that run's bundle files are downloaded and verified.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

from core.settings import Settings
from riskmodel.bundle import BundleError, ModelBundle
from riskmodel.registry import CHAMPION, fetch_bundle


class ModelUnavailable(RuntimeError):
    """No usable champion: the service refuses to start."""


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
