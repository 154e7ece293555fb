"""Process settings, read from the environment (prefix ``EWS_``) once per command."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Only good enough for a laptop demo; production refuses to start with it.
DEVELOPMENT_ID_HASH_KEY = "development-only-id-hash-key"  # noqa: S105
DEVELOPMENT_SESSION_SECRET = "development-only-session-secret"  # noqa: S105


class Settings(BaseSettings):
    """Everything a command needs to know about where things live."""

    model_config = SettingsConfigDict(env_prefix="EWS_", extra="forbid", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "development",
        description="'production' refuses default secrets and local-only defaults.",
    )
    database_url: str = Field(
        "sqlite:///data/ews.db",
        description="SQLAlchemy URL of the operational database (PostgreSQL in production).",
    )
    id_hash_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_ID_HASH_KEY),
        description="Key of the HMAC that replaces national IDs; never stored anywhere else.",
    )
    session_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_SESSION_SECRET),
        description="Key that signs web session cookies.",
    )
    mlflow_tracking_uri: str = Field(
        "sqlite:///models/mlflow.db",
        description="MLflow tracking and registry store "
        "(EWS_MLFLOW_TRACKING_URI or MLFLOW_TRACKING_URI).",
        validation_alias=AliasChoices(
            "EWS_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI", "mlflow_tracking_uri"
        ),
    )
    mlflow_artifact_root: Path = Field(
        Path("models/artifacts"),
        description="Where a local tracking store keeps run artifacts.",
    )
    model_name: str = Field("dropout-risk", description="Registered model name.")
    rejects_dir: Path = Field(Path("data/rejects"), description="Default rejects report folder.")
    max_batch_rows: int = Field(1000, description="Largest batch one scoring request may send.")
    dask_address: str | None = Field(
        None,
        description="Dask scheduler for the weekly run and training partitioned by school "
        "('local' starts a local cluster); unset: one process.",
    )
    dask_workers: int = Field(2, description="Workers of the local cluster (dask_address=local).")
    dataset_path: Path | None = Field(
        None,
        description="Parquet dataset partitioned by school to read the sources from "
        "(written by 'ews ingest --dataset'); unset: the operational database.",
    )

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.id_hash_key.get_secret_value() == DEVELOPMENT_ID_HASH_KEY:
                raise ValueError("EWS_ID_HASH_KEY must be set in production")
            if self.session_secret.get_secret_value() == DEVELOPMENT_SESSION_SECRET:
                raise ValueError("EWS_SESSION_SECRET must be set in production")
            if self.database_url.startswith("sqlite"):
                raise ValueError("EWS_DATABASE_URL must name a server database in production")
        return self
