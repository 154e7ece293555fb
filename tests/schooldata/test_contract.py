"""The contract as code: complete, and the committed data dictionary matches it."""

from __future__ import annotations

from pathlib import Path

from schooldata.contract import REQUIRED_SOURCES, SOURCES, data_dictionary_markdown, fold_header

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


def test_every_thai_word_the_service_shows_for_a_value_is_read_back_as_that_value() -> None:
    """A school that writes a help, an outcome or a level as the pages show it is understood."""
    from features.catalog import catalog
    from schooldata.contract import SOURCES_BY_NAME
    from serving.i18n import INTERVENTIONS, OUTCOMES

    def reads(source: str, column: str) -> dict[str, str]:
        spec = SOURCES_BY_NAME[source].column(column)
        mapping = {fold_header(a): c for a, c in spec.aliases.items()}
        return mapping | {fold_header(c): c for c in spec.allowed or ()}

    shown = {
        ("interventions", "type"): {th: v for v, (th, _) in INTERVENTIONS.items() if "." not in v},
        ("interventions", "outcome"): {th: v for v, (th, _) in OUTCOMES.items()},
        ("household", "housing"): dict(
            zip(
                catalog()["housing_condition_level"].levels_th,
                ("good", "fair", "poor"),
                strict=True,
            )
        ),
        ("household", "equity_status"): dict(
            zip(
                catalog()["equity_status_level"].levels_th,
                ("none", "poor", "extremely_poor"),
                strict=True,
            )
        ),
    }
    for (source, column), words in shown.items():
        for thai, value in words.items():
            assert reads(source, column).get(fold_header(thai)) == value, (column, thai)


def test_no_two_words_of_a_column_read_the_same_but_mean_different_values() -> None:
    for source in SOURCES:
        for column in source.columns:
            words = [*column.aliases.items(), *((c, c) for c in column.allowed or ())]
            meanings: dict[str, set[str]] = {}
            for word, value in words:
                meanings.setdefault(fold_header(word), set()).add(value)
                assert column.allowed is None or value in column.allowed, (column.name, word)
            clashes = {w: v for w, v in meanings.items() if len(v) > 1}
            assert not clashes, (source.name, column.name, clashes)
        headers = [
            h
            for c in source.columns
            for h in {fold_header(x) for x in (c.name, c.thai, *c.headers) if x}
        ]
        assert len(headers) == len(set(headers)), source.name
