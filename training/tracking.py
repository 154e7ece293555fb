"""MLflow set-up: the local store under ``models/`` by default, a server by URL otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

from core.settings import Settings

EXPERIMENT = "dropout-risk"


def configure_tracking(settings: Settings) -> mlflow.MlflowClient:
    """Point MLflow at the tracking store and make sure the experiment exists."""
    uri = settings.mlflow_tracking_uri
    # Download progress bars would drown the command's own output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
        location = settings.mlflow_artifact_root.resolve().as_uri() if local else None
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow.MlflowClient()
