"""The contract as code: complete, and the committed data dictionary matches it."""

from __future__ import annotations

from pathlib import Path

from schooldata.contract import REQUIRED_SOURCES, SOURCES, data_dictionary_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_column_is_a_required_column() -> None:
    for source in SOURCES:
        optional_keys = set(source.key) - set(source.required_columns)
        # calendar.school_id is the only optional key part: blank means every school.
        allowed = {"school_id"} if source.name == "calendar" else set()
        assert optional_keys <= allowed, source.name


def test_required_sources_are_the_three_of_the_spec() -> None:
    assert set(REQUIRED_SOURCES) == {"students", "enrollments", "exits"}


def test_committed_data_dictionary_is_generated_from_the_contract() -> None:
    committed = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == data_dictionary_markdown() + "\n", (
        "run `ews contract` and commit the result"
    )
