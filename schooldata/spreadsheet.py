"""Spreadsheets as schools use them: CSV that Excel opens with Thai intact and no formula
run (a cell starting with ``=`` could run when a teacher opens a report)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> object:
    """Prefix text that Excel would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel shows Thai; formula-like cells escaped."""
    text: str = frame.astype(object).map(excel_safe).to_csv(index=False)
    return ("\ufeff" + text).encode("utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``csv_bytes`` of the frame to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(frame))
