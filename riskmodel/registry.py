"""The model registry: which registered version serves, and fetching its bundle.

Training registers each version as the ``challenger``; promotion moves ``champion``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from riskmodel.bundle import MANIFEST_FILE, BundleError, ModelBundle

CHAMPION = "champion"
# MLflow experiments beside the training runs: every promotion decision, and each past
# list checked against what happened.
PROMOTIONS_EXPERIMENT = "dropout-risk promotions"
OUTCOMES_EXPERIMENT = "dropout-risk outcomes"
EFFECTS_EXPERIMENT = "dropout-risk intervention effects"
EFFECTS_FILE = "effects.csv"  # the aggregate table of an effects run
CHALLENGER = "challenger"
BUNDLE_ARTIFACT_PATH = "serving"
# The bundle's hash, recorded on the registered version when it is registered: a bundle
# rewritten afterwards (its manifest too) no longer matches the registry.
DIGEST_TAG = "bundle_sha256"


# How MLflow says a model or an alias does not exist (the alias: an invalid parameter).
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class NoVersion(BundleError):
    """No registered version carries the alias (nothing trained or promoted yet)."""


class RegistryUnavailable(BundleError):
    """The registry did not answer (its database or server is down)."""


def bundle_digest(directory: Path) -> str:
    """The SHA-256 of a bundle's manifest, which holds every file's SHA-256."""
    return hashlib.sha256((directory / MANIFEST_FILE).read_bytes()).hexdigest()


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
        if error.error_code in NOT_FOUND:
            raise NoVersion(f"no version of {model_name!r} has the alias {alias!r}") from error
        # A registry that cannot be reached is not one without a model: a list must not
        # quietly fall back to the rule while a champion exists.
        raise RegistryUnavailable(f"the model registry did not answer: {error.message}") from error
    destination.mkdir(parents=True, exist_ok=True)
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=BUNDLE_ARTIFACT_PATH, dst_path=str(destination)
        )
    )
    recorded = (version.tags or {}).get(DIGEST_TAG)
    if not (local / MANIFEST_FILE).exists():
        raise BundleError(f"version {version.version} has no model bundle")
    if recorded is None:
        raise BundleError(
            f"version {version.version} was registered without the SHA-256 of its bundle "
            f"(tag {DIGEST_TAG!r}): refusing to load. Retrain to register a checked version"
        )
    if recorded != bundle_digest(local):
        raise BundleError(
            f"the bundle of version {version.version} does not match the SHA-256 recorded "
            "in the registry when it was registered: refusing to load"
        )
    return ModelBundle.load(local), version
