"""The contract as code: complete, and the committed data dictionary matches it."""

from __future__ import annotations

from pathlib import Path

from schooldata.contract import REQUIRED_SOURCES, SOURCES, data_dictionary_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_column_is_a_required_column_but_the_school_of_a_record() -> None:
    for source in SOURCES:
        optional_keys = set(source.key) - set(source.required_columns)
        # Blank school_id: the calendar's row for every school, or a record about a student
        # whose school ingest finds (the folder's, the upload's, or the one using the code).
        allowed = {"school_id"} if source.name == "calendar" or source.student_ref else set()
        assert optional_keys <= allowed, source.name


def test_every_record_about_a_student_is_keyed_by_the_school_and_its_code() -> None:
    for source in SOURCES:
        if source.about_students:
            assert source.key[:2] == ("school_id", "student_id"), source.name


def test_required_sources_are_the_three_of_the_spec() -> None:
    assert set(REQUIRED_SOURCES) == {"students", "enrollments", "exits"}


def test_committed_data_dictionary_is_generated_from_the_contract() -> None:
    committed = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == data_dictionary_markdown() + "\n", (
        "run `ews contract` and commit the result"
    )
