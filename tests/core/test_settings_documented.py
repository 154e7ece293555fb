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
