"""Which of some schools' students each record is about, by school and code.

A student is a school and its own code (two schools may number their children alike), so
finding a record's student is a lookup of a pair of text columns. ``PairIndex`` makes it
two lookups of the columns' distinct values (a category's or a Parquet dictionary's, once
each) and one of a table over the students' schools and codes, where joining on two text
columns costs many passes over millions of records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A lookup table this long or shorter replaces hashing (the students of a partition are a
# few schools times a few thousand codes); a longer one would be mostly empty.
DENSE_LOOKUP = 1 << 24


@dataclass(frozen=True)
class PairIndex:
    """The rows of a frame of students (``school_id``, ``student_id``) by their pair."""

    schools: pd.Index
    codes: pd.Index
    # The row of each pair's key, school position x (codes + 1) + code position: a table
    # indexed by key (-1: none), or for many schools and codes, the rows by key.
    table: np.ndarray | None
    keys: pd.Series | None

    @classmethod
    def of(cls, students: pd.DataFrame) -> PairIndex:
        """The index of ``students``' rows (of several rows with one pair, the last)."""
        schools, codes = distinct_text(students["school_id"]), distinct_text(students["student_id"])
        key = _slots(students["school_id"], schools) * (len(codes) + 1) + _slots(
            students["student_id"], codes
        )
        size = (len(schools) + 1) * (len(codes) + 1)
        # The last row of a repeated pair (an assignment to one place twice keeps no
        # promised value).
        last = np.flatnonzero(~pd.Series(key).duplicated(keep="last").to_numpy())
        if size > DENSE_LOOKUP:  # hashed instead
            return cls(schools, codes, None, pd.Series(last, index=key[last]))
        table = np.full(size, -1, dtype=np.int64)
        table[key[last]] = last
        # A missing school or code is no student's, even where a student lacks one.
        table[len(schools) * (len(codes) + 1) :] = -1
        table[len(codes) :: len(codes) + 1] = -1
        return cls(schools, codes, table, None)

    def rows(self, frame: pd.DataFrame) -> np.ndarray:
        """For each row of ``frame``, the row of the indexed students with its pair (-1:
        none, or a missing school or code)."""
        return self._found(
            _slots(frame["school_id"], self.schools), _slots(frame["student_id"], self.codes)
        )

    def arrow_rows(self, table: pa.Table) -> np.ndarray:
        """``rows`` of an Arrow table (its school and code columns dictionaries or text)."""
        return self._found(
            _arrow_slots(table.column("school_id"), self.schools),
            _arrow_slots(table.column("student_id"), self.codes),
        )

    def _found(self, school: np.ndarray, code: np.ndarray) -> np.ndarray:
        key = school * (len(self.codes) + 1) + code
        if self.table is not None:
            found: np.ndarray = self.table[key]
            return found
        assert self.keys is not None
        at = self.keys.index.get_indexer(key)
        found = np.where(at >= 0, self.keys.to_numpy()[at], -1)
        found[(school == len(self.schools)) | (code == len(self.codes))] = -1
        return found


def distinct_text(values: pd.Series) -> pd.Index:
    """The distinct values present (missing ones are none), as text (a categorical's
    converted once each)."""
    present = values.dropna().unique()
    return pd.Index(pd.Series(present).astype(str).to_numpy(), dtype=object)


def _slots(values: pd.Series, labels: pd.Index) -> np.ndarray:
    """Each value's position among ``labels``, and ``len(labels)`` for a value not there
    or missing: a categorical's categories are looked up once, then taken by code."""
    missing = len(labels)
    if isinstance(values.dtype, pd.CategoricalDtype):
        found = labels.get_indexer(values.cat.categories.astype(str))
        lookup = np.append(np.where(found >= 0, found, missing), missing)
        slots: np.ndarray = lookup[values.cat.codes.to_numpy()]  # code -1: the last slot
        return slots
    # Text: hashed by Arrow, never a Python object a value.
    text = pa.array(values.astype("str"))
    at = pc.index_in(text, value_set=pa.array(labels.to_numpy(), pa.string()).cast(text.type))
    return np.asarray(at.fill_null(missing).to_numpy(zero_copy_only=False), dtype=np.int64)


def _arrow_slots(values: pa.ChunkedArray, labels: pd.Index) -> np.ndarray:
    """``_slots`` of an Arrow column: a dictionary's values looked up once, then taken by
    index."""
    missing = len(labels)
    if values.num_chunks and pa.types.is_dictionary(values.type):
        values = values.unify_dictionaries()
        found = labels.get_indexer(values.chunk(0).dictionary.to_pandas().astype(str))
        lookup = np.append(np.where(found >= 0, found, missing), missing)
        indices = pa.chunked_array([c.indices for c in values.chunks], values.type.index_type)
        slots: np.ndarray = lookup[pc.fill_null(indices, -1).to_numpy()]  # -1: the last
        return slots
    return _slots(values.to_pandas(), labels)
