"""Spreadsheets as schools use them: CSV that Excel opens with Thai intact and no formula
run (a cell starting with ``=`` could run when a teacher opens a report)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> object:
    """Prefix text that Excel would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel shows Thai; formula-like cells escaped.

    Lines end with CR LF, as Excel writes them (RFC 4180): a cell holding a carriage
    return (a note typed in a form's text box) is then quoted, where with LF endings it
    was not, and split its row in two for Excel and for pandas."""
    text: str = frame.astype(object).map(excel_safe).to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8")


WIDEST = 50  # characters: the widest a column of a workbook is made


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """An Excel workbook of these sheets (names cut to Excel's 31 characters), with
    formula-like cells escaped and each column as wide as its longest text (up to
    ``WIDEST`` characters), so that names and Thai headers show whole when it opens."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.astype(object).map(excel_safe).to_excel(writer, sheet_name=name[:31], index=False)
            sheet = writer.sheets[name[:31]]
            for index, column in enumerate(frame.columns):
                longest = max([len(str(column)), *(len(str(v)) for v in frame[column])])
                letter = sheet.cell(row=1, column=index + 1).column_letter
                sheet.column_dimensions[letter].width = min(longest, WIDEST) + 2
    return buffer.getvalue()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``csv_bytes`` of the frame to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(frame))
