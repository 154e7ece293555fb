"""A dataset's tables become the frames Arrow's own conversion gives; its student filter."""

import pandas as pd
import pyarrow as pa

from schooldata.dataset import _among, _frame


def _coded(values: list[str | None]) -> pa.DictionaryArray:
    return pa.array(values, pa.large_string()).dictionary_encode()


def test_dictionary_columns_become_the_categories_arrow_makes_of_them() -> None:
    # Two files' chunks, each with its own dictionary, in another order, with a gap.
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                {"student_id": _coded(["B", "A", "B"]), "reason": _coded([None, "moved", None])}
            ),
            pa.record_batch(
                {"student_id": _coded(["C", "A"]), "reason": _coded(["work", "moved"])}
            ),
        ]
    ).append_column("days", pa.array([1, 2, 3, 4, 5]))

    for case in (table, table.slice(0, 0), table.slice(1, 3)):
        ours, arrows = _frame(case), case.to_pandas()
        pd.testing.assert_frame_equal(ours, arrows)
        for column in ("student_id", "reason"):
            assert list(ours[column].cat.categories) == list(arrows[column].cat.categories)
    assert list(_frame(table)["reason"].isna()) == [True, False, True, False, False]


def test_without_the_fast_path_arrows_conversion_is_used(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delattr(pd.CategoricalDtype, "_from_fastpath")
    table = pa.table({"student_id": _coded(["B", "A"]), "days": [1, 2]})
    pd.testing.assert_frame_equal(_frame(table), table.to_pandas())


def test_the_student_filter_tests_every_files_dictionary_against_the_wanted() -> None:
    # Each file's chunk has its own dictionary; a student missing from one file's is not
    # wanted there, and text read without dictionaries is filtered the same.
    ids = pa.chunked_array([_coded(["A", "B", "A"]), _coded(["C", "B"]), _coded([])])
    assert _among(ids, ["B", "C"]).to_pylist() == [False, True, False, True, True]
    assert _among(pa.chunked_array([], ids.type), ["B"]).to_pylist() == []
    plain = pa.chunked_array([pa.array(["A", "B"]), pa.array(["C"])])
    assert _among(plain, ["B", "C"]).to_pylist() == [False, True, True]
