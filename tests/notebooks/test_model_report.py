"""The analyst's notebook runs headless on synthetic data and is committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from nbclient import NotebookClient

from core.settings import Settings
from tests.conftest import plumbing_config
from training.promote import promote
from training.train import train

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "model_report.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))

    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == []
            assert cell["execution_count"] is None


@pytest.mark.slow
def test_notebook_executes_on_a_trained_champion_and_challenger(
    tmp_path: Path, synthetic_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "EWS_DATABASE_URL": synthetic_engine.url.render_as_string(),
        "EWS_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "EWS_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings()
    train(settings, plumbing_config(), synthetic_engine)
    promote(settings, synthetic_engine)
    train(settings, plumbing_config(), synthetic_engine)

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(Path.cwd())}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps([o.get("data", {}).get("text/plain", "") for o in outputs])
    assert "precision_at_capacity_school" in text
    assert "reference" in text and "share_found_8w" in text  # the fairness tables
    assert any("image/png" in o.get("data", {}) for o in outputs)
