"""Finding each record's student by school and code: pandas and Arrow columns, text and
categories, the dense table and the hashed keys, all alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from schooldata import pairs
from schooldata.pairs import PairIndex

STUDENTS = pd.DataFrame(
    {
        # Two schools number their students alike; one pair comes twice (the last counts);
        # one student lacks a school.
        "school_id": ["S1", "S1", "S2", "S2", "S1", None],
        "student_id": ["001", "002", "001", "003", "002", "004"],
    }
)
RECORDS = pd.DataFrame(
    {
        "school_id": ["S2", "S1", "S1", "S3", None, "S2", "S1", None],
        "student_id": ["001", "001", "002", "001", "004", "002", None, None],
    }
)
EXPECTED = [2, 0, 4, -1, -1, -1, -1, -1]


def test_rows_by_pair_last_row_counts_and_missing_never_matches() -> None:
    assert PairIndex.of(STUDENTS).rows(RECORDS).tolist() == EXPECTED
    # Text as Python objects (a database driver's) finds the same rows; so do codes a
    # driver gave as numbers, by their text.
    assert PairIndex.of(STUDENTS).rows(RECORDS.astype(object)).tolist() == EXPECTED
    numbers = pd.DataFrame({"school_id": ["S1", "S2", "S1"], "student_id": [1, 3, 7]})
    codes = pd.DataFrame({"school_id": ["S1", "S2"], "student_id": ["1", "3"]})
    assert PairIndex.of(codes).rows(numbers).tolist() == [0, 1, -1]


def test_categories_and_arrow_dictionaries_give_the_same_rows() -> None:
    index = PairIndex.of(STUDENTS.astype("category"))
    assert index.rows(RECORDS.astype("category")).tolist() == EXPECTED
    text = pa.Table.from_pandas(RECORDS, preserve_index=False)
    assert index.arrow_rows(text).tolist() == EXPECTED
    # Two chunks whose dictionaries differ, as two Parquet files give them.
    halves = [
        pa.Table.from_pandas(part.astype("category"), preserve_index=False)
        for part in (RECORDS.iloc[:3], RECORDS.iloc[3:])
    ]
    chunked = pa.concat_tables(halves, promote_options="permissive")
    assert pa.types.is_dictionary(chunked.column("student_id").type)
    assert index.arrow_rows(chunked).tolist() == EXPECTED


def test_hashed_keys_beyond_the_table_size_agree(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    students = pd.DataFrame(
        {
            "school_id": rng.choice([f"S{i}" for i in range(40)], 3000),
            "student_id": rng.choice([f"{i:05d}" for i in range(900)], 3000),
        }
    )
    # A student without a school, whose code a record without one carries too.
    students = pd.concat([students, STUDENTS.tail(1)], ignore_index=True)
    records = pd.concat([students.head(3000).sample(5000, replace=True, random_state=1), RECORDS])
    dense = PairIndex.of(students)
    monkeypatch.setattr(pairs, "DENSE_LOOKUP", 100)
    hashed = PairIndex.of(students)
    assert dense.table is not None
    assert hashed.table is None
    found = hashed.rows(records)
    assert np.array_equal(found, dense.rows(records))
    assert (found[:5000] >= 0).all()
    assert found[5000 + 4] == -1
    # Each record found its own pair, in the last of that pair's rows.
    assert (students.to_numpy()[found[:5000]] == records.iloc[:5000].to_numpy()).all()
    last = students.drop_duplicates(keep="last")
    assert set(found[:5000]) <= set(last.index)
