"""README's configuration table names every setting the code reads, and nothing else; settings
that are wrong are refused by name."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from core.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_table_matches_the_settings() -> None:
    table = [line for line in README.read_text().splitlines() if line.startswith("| `EWS_")]
    documented = {name for line in table for name in re.findall(r"`EWS_([A-Z0-9_]+)`", line)}
    assert documented == {name.upper() for name in Settings.model_fields}


def test_a_holiday_that_is_not_a_date_is_refused_by_name() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="EWS_HOLIDAYS: '2025-02-30' is not a date"):
        Settings(holidays="2025-02-17, 2025-02-30")
    assert Settings(holidays="2025-02-17, 2025-02-18").holiday_dates == {
        date(2025, 2, 17),
        date(2025, 2, 18),
    }


def test_a_wrong_setting_is_refused_naming_its_variable_and_never_its_value(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from ews.cli import app

    env = {
        "EWS_DATABASE_URL": f"sqlite:///{tmp_path / 'ews.db'}",
        "EWS_SCHEDULE_TIME": "6:00",
        "EWS_MAX_BATCH_ROWS": "many-rows-9f3e",
        "COLUMNS": "300",
    }
    result = CliRunner().invoke(app, ["status"], env=env)

    assert result.exit_code == 2
    named = sorted(line.split(" (")[0] for line in result.output.splitlines())
    assert named == ["Setting refused: EWS_MAX_BATCH_ROWS", "Setting refused: EWS_SCHEDULE_TIME"]
    assert "(the weekly run's time of day, HH:MM in Asia/Bangkok)" in result.output
    assert "many-rows-9f3e" not in result.output  # a value may be a secret


def test_production_refuses_messages_that_would_link_to_the_servers_loopback() -> None:
    import pytest
    from pydantic import ValidationError

    production = {
        "environment": "production",
        "database_url": "postgresql+psycopg://ews@db/ews",
        "id_hash_key": "k" * 40,
        "session_secret": "s" * 40,
    }
    with pytest.raises(ValidationError, match="EWS_PUBLIC_URL is http://127.0.0.1:8000"):
        Settings(**production, smtp_host="mail.school.example")
    with pytest.raises(ValidationError, match="EWS_PUBLIC_URL is http://localhost"):
        Settings(
            **production,
            webhook_url="https://chat.example/hook",
            webhook_secret="w" * 40,
            public_url="http://localhost",
        )
    assert Settings(**production).public_url  # no messages: no link to go wrong
    reached = Settings(**production, smtp_host="mail", public_url="https://ews.school.example")
    assert reached.public_url == "https://ews.school.example"


def test_a_model_store_given_as_a_folder_is_refused_saying_what_to_give(tmp_path: Path) -> None:
    """MLflow 3 refuses its file store with a traceback that names neither the setting nor
    the fix; a folder is refused when the settings are read, with both."""
    from typer.testing import CliRunner

    from ews.cli import app

    env = {
        "EWS_DATABASE_URL": f"sqlite:///{tmp_path / 'ews.db'}",
        "EWS_MLFLOW_TRACKING_URI": str(tmp_path / "mlruns"),
        "MLFLOW_TRACKING_URI": None,
        "MLFLOW_ALLOW_FILE_STORE": None,
        "COLUMNS": "300",
    }
    result = CliRunner().invoke(app, ["status"], env=env)

    assert result.exit_code == 2
    assert result.output.startswith(
        "Setting refused: EWS_MLFLOW_TRACKING_URI (or MLFLOW_TRACKING_URI) names a folder"
    )
    assert "sqlite:///models/mlflow.db" in result.output
    assert str(tmp_path) not in result.output
    for store in ("sqlite:///models/mlflow.db", "http://mlflow.school.example:5000", "databricks"):
        assert Settings(mlflow_tracking_uri=store).mlflow_tracking_uri == store
