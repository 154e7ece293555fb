"""The model registry: which registered version serves, and fetching its bundle.

Training registers each version as the ``challenger``; promotion moves ``champion``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from riskmodel.bundle import BundleError, ModelBundle

CHAMPION = "champion"
CHALLENGER = "challenger"
BUNDLE_ARTIFACT_PATH = "serving"


def fetch_bundle(model_name: str, alias: str, destination: Path) -> tuple[ModelBundle, Any]:
    """Download and load the bundle of the registered version that carries ``alias``.

    The tracking URI must already be set. Returns the bundle and the model version.

    Raises:
        BundleError: no version has the alias, or its bundle fails the checks.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException as error:
        raise BundleError(f"no version of {model_name!r} has the alias {alias!r}") from error
    destination.mkdir(parents=True, exist_ok=True)
    local = mlflow.artifacts.download_artifacts(
        run_id=version.run_id, artifact_path=BUNDLE_ARTIFACT_PATH, dst_path=str(destination)
    )
    return ModelBundle.load(Path(local)), version
