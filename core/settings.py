"""Process settings, read from the environment (prefix ``EWS_``) once per command."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    id_hash_key: SecretStr | None = Field(
        None,
        description="Key of the HMAC that replaces national IDs. Unset: generated once and "
        "kept beside the database (core.secrets); required in production.",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs web session cookies. Unset: generated once and kept "
        "beside the database (core.secrets); required in production.",
    )
    secrets_file: Path | None = Field(
        None,
        description="Where generated secrets are kept (default: beside a SQLite database, "
        "else data/ews-secrets.json), readable by its owner only.",
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
    upload_dir: Path = Field(
        Path("data/uploads"),
        description="Where files uploaded on the upload page wait (an hour at most) to be "
        "confirmed.",
    )
    max_upload_bytes: int = Field(
        50_000_000, ge=1024, description="Largest upload of a school's files on the upload page."
    )
    max_batch_rows: int = Field(1000, description="Largest batch one scoring request may send.")
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body; larger ones are refused unread."
    )
    api_docs: bool | None = Field(
        None, description="Serve /docs and /openapi.json (default: not in production)."
    )
    oidc_discovery_url: str | None = Field(
        None,
        description="Single sign-on: the OpenID Connect provider's discovery URL "
        "(.../.well-known/openid-configuration); unset: off.",
    )
    oidc_client_id: str | None = Field(
        None, description="Single sign-on: this service's client id."
    )
    oidc_client_secret: SecretStr | None = Field(
        None, description="Single sign-on: this service's client secret."
    )
    oidc_username_claim: str = Field(
        "preferred_username",
        description="Single sign-on: the ID-token claim matched against account usernames.",
    )
    follow_returned_terms: int = Field(
        2,
        ge=1,
        le=12,
        description="A child who came back to school after leaving stays on their advisor's "
        "follow-up list for this many terms (the term they came back in counts), whatever "
        "their risk.",
    )
    stale_after_school_days: int = Field(
        5,
        ge=0,
        description="A school whose newest attendance is more than this many school days "
        "before the as-of date is stale: the weekly run leaves it out and says so.",
    )
    dask_address: str | None = Field(
        None,
        description="Dask scheduler for the weekly run and training partitioned by school "
        "('local' starts a local cluster); unset: one process.",
    )
    dask_workers: int = Field(2, description="Workers of the local cluster (dask_address=local).")
    processes: int | None = Field(
        None,
        ge=1,
        description="Processes of a weekly run partitioned by school (a dataset) when no "
        "Dask scheduler is set; unset: one per core; 1: partitions in turn in one process.",
    )
    students_per_task: int = Field(
        25_000,
        ge=1,
        description="Students (with their histories) a task of a partitioned weekly run "
        "holds, schools grouped in ID order up to it: about 1.3 GB a worker at 25,000.",
    )
    dataset_path: Path | None = Field(
        None,
        description="Parquet dataset partitioned by school to read the sources from "
        "(written by 'ews ingest --dataset'); unset: the operational database.",
    )

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @model_validator(mode="after")
    def _single_sign_on_complete(self) -> Settings:
        if self.oidc_discovery_url and not self.oidc_client_id:
            raise ValueError("EWS_OIDC_DISCOVERY_URL is set: EWS_OIDC_CLIENT_ID must be too")
        return self

    @model_validator(mode="after")
    def _refuse_local_defaults_in_production(self) -> Settings:
        # Secrets are checked where they are used (core.secrets): missing, short or
        # published ones are refused there.
        if self.environment == "production":
            for name in ("id_hash_key", "session_secret"):
                if getattr(self, name) is None:
                    raise ValueError(f"EWS_{name.upper()} must be set in production")
            if self.oidc_discovery_url and not self.oidc_discovery_url.startswith("https://"):
                raise ValueError("EWS_OIDC_DISCOVERY_URL must be an https:// URL in production")
            if self.database_url.startswith("sqlite"):
                raise ValueError("EWS_DATABASE_URL must name a server database in production")
        return self
