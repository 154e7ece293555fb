"""Workbooks as teachers open them."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from schooldata.spreadsheet import WIDEST, csv_bytes, xlsx_bytes


def test_a_workbooks_columns_are_as_wide_as_their_text_and_formulas_do_not_run() -> None:
    """Columns came at Excel's default width: a child's name or a Thai header showed cut."""
    frame = pd.DataFrame(
        {
            "เลขที่รายการ": [1, 22],
            "ชื่อ": ["ธนพลสุขสวัสดิ์ วงศ์ไทยเจริญ", "ก"],
            "บันทึก": ["=HYPERLINK(1)", "x" * 200],
        }
    )

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"ผลการติดตาม": frame}))).active

    assert sheet.title == "ผลการติดตาม"
    widths = [sheet.column_dimensions[letter].width for letter in "ABC"]
    assert widths[0] >= len("เลขที่รายการ")
    assert widths[1] >= len("ธนพลสุขสวัสดิ์ วงศ์ไทยเจริญ")
    assert widths[2] == WIDEST + 2  # a long note does not make a column a screen wide
    assert sheet["C2"].value == "'=HYPERLINK(1)"


def test_a_csv_cell_with_a_carriage_return_stays_in_its_row() -> None:
    """A note typed in a text box comes with CR LF line breaks; a bare CR too."""
    frame = pd.DataFrame(
        {"student": ["10001", "10002"], "note": ["พบครอบครัว\r\nย้ายไปต่างจังหวัด", "a\rb"]}
    )

    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), dtype=str, encoding="utf-8-sig")

    pd.testing.assert_frame_equal(back, frame)
