"""Process settings, read from the environment (prefix ``EWS_``) once per command."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Addresses no user reaches the service at: a link to one in a message leads nowhere.
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 (compared, not bound)


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
    untouched_days: int = Field(
        14,
        ge=1,
        le=120,
        description="A flagged student with no action recorded in this many days is on the "
        "'needs action' list of their advisor and committee, and counted on the area page.",
    )
    brief_font: Path = Field(
        Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf"),
        description="A TrueType font with Thai for the printed brief of a student's case "
        "(Debian's fonts-thai-tlwg has this one).",
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
    abc_absence_rate: float = Field(
        0.10,
        ge=0,
        le=1,
        description="ABC rule (the scorer before any model): the attendance flag fires at "
        "this term's absence rate or more ...",
    )
    abc_absent_days_20d: int = Field(
        4, ge=1, le=20, description="... or at this many absent days of the last 20."
    )
    abc_sdq_total: int = Field(
        17,
        ge=0,
        le=40,
        description="ABC rule: the behaviour flag fires at this SDQ total or more, or a "
        "screening level of 'risk' (behaviour) or 'problem' (overall).",
    )
    abc_gpa_below: float = Field(
        1.5,
        ge=0,
        le=4,
        description="ABC rule: the course flag fires below this GPA last term, or on any "
        "failed, incomplete or not-eligible mark.",
    )
    schedule_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description="The weekly run's day (Asia/Bangkok)."
    )
    schedule_time: str = Field(
        "06:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="The weekly run's time of day, HH:MM in Asia/Bangkok.",
    )
    holidays: str = Field(
        "",
        description="Days with no school that the calendar's terms do not show "
        "(YYYY-MM-DD, comma-separated): a week whose every school day is a holiday or "
        "outside the terms is skipped by the scheduler.",
    )
    scheduler: bool = Field(
        True,
        description="The service runs the week itself (and reruns a school after a "
        "confirmed upload); off: only 'ews score' does.",
    )
    trusted_proxies: str = Field(
        "127.0.0.1",
        description="Addresses of the TLS proxy in front of the service, comma-separated: "
        "the client address they forward is believed, so that sign-in limits and the audit "
        "log see each user's own address, not the proxy's.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The service's address as users reach it: the link in messages.",
    )
    smtp_host: str | None = Field(
        None, description="Mail server for the weekly messages; unset: no e-mail."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Mail server port.")
    smtp_user: str | None = Field(None, description="Mail server user (with STARTTLS).")
    smtp_password: SecretStr | None = Field(None, description="Mail server password.")
    smtp_starttls: bool = Field(True, description="Use STARTTLS (always in production).")
    mail_from: str = Field("ews@localhost", description="Sender of the weekly messages.")
    webhook_url: str | None = Field(
        None,
        description="Where each school's weekly summary is POSTed as JSON, signed with "
        "HMAC-SHA256 of EWS_WEBHOOK_SECRET in the X-EWS-Signature header (a LINE official "
        "account's bridge, a chat); unset: none.",
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Key of the webhook's HMAC (required when a webhook is set)."
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

    @property
    def holiday_dates(self) -> frozenset[date]:
        """``holidays`` as dates (checked when the settings are read)."""
        return frozenset(
            date.fromisoformat(d.strip()) for d in self.holidays.split(",") if d.strip()
        )

    @model_validator(mode="after")
    def _holidays_are_dates(self) -> Settings:
        for day in self.holidays.split(","):
            try:
                if day.strip():
                    date.fromisoformat(day.strip())
            except ValueError:
                raise ValueError(
                    f"EWS_HOLIDAYS: {day.strip()!r} is not a date; give YYYY-MM-DD, "
                    "separated by commas"
                ) from None
        return self

    @model_validator(mode="after")
    def _model_store_is_a_database_or_a_server(self) -> Settings:
        # MLflow 3 refuses a folder (its file store) with a traceback naming neither the
        # setting nor the fix; say both when the settings are read.
        uri = self.mlflow_tracking_uri
        opted_out = os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() == "true"
        if urlsplit(uri).scheme in ("", "file") and uri != "databricks" and not opted_out:
            raise ValueError(
                "EWS_MLFLOW_TRACKING_URI (or MLFLOW_TRACKING_URI) names a folder (MLflow's "
                "file store, which MLflow 3 no longer opens): give a database URL such as "
                "sqlite:///models/mlflow.db, or a tracking server's http(s):// address"
            )
        return self

    @model_validator(mode="after")
    def _single_sign_on_complete(self) -> Settings:
        if self.oidc_discovery_url and not self.oidc_client_id:
            raise ValueError("EWS_OIDC_DISCOVERY_URL is set: EWS_OIDC_CLIENT_ID must be too")
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("EWS_WEBHOOK_URL is set: EWS_WEBHOOK_SECRET must be too")
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
            host = urlsplit(self.public_url).hostname or ""
            if (self.smtp_host or self.webhook_url) and host in LOOPBACK:
                raise ValueError(
                    f"EWS_PUBLIC_URL is {self.public_url}: in production the weekly messages "
                    "link to it, so it must be the address users reach"
                )
        return self
