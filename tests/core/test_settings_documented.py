"""README's configuration table names every setting the code reads, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_table_matches_the_settings() -> None:
    table = [line for line in README.read_text().splitlines() if line.startswith("| `EWS_")]
    documented = {name for line in table for name in re.findall(r"`EWS_([A-Z0-9_]+)`", line)}
    assert documented == {name.upper() for name in Settings.model_fields}
