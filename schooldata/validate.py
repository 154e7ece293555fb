"""Read one source file and split it into typed good rows and a rejects report.

Parsing is vectorised per column; value rules (allowed values, ranges, patterns, the
national-ID checksum) are a pandera schema built from the contract. A bad row is reported
with its file, line, column, value and reason, and every good row is kept. A file that
cannot be read or lacks a required column is refused whole (:class:`FileRefused`).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from schooldata.contract import Column, Source
from schooldata.national_id import is_valid as national_id_is_valid

REJECT_COLUMNS = ["file", "line", "column", "value", "reason"]
TRUE_WORDS = {"true", "1", "yes", "y", "t", "ใช่", "จริง"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "ไม่ใช่", "เท็จ"}
# Buddhist-Era years are 543 ahead of the Common Era.
BE_OFFSET = 543


class FileRefused(Exception):
    """A whole file is refused: unreadable, or missing a required column."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


@dataclass
class ParsedSource:
    """The good rows of one file (typed, contract column names) and its rejects."""

    source: Source
    file: str
    rows: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    lines: np.ndarray  # the file line of each good row


def find_source_file(directory: Path, source: Source) -> Path | None:
    """Return the file holding ``source`` in ``directory`` (CSV or Parquet), if any."""
    for suffix in (".csv", ".parquet", ".CSV"):
        path = directory / f"{source.name}{suffix}"
        if path.exists():
            return path
    return None


def decode_csv_bytes(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Windows-874 / TIS-620."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp874")


def read_raw(path: Path, source: Source) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a file as text columns named by the contract, with each row's line number.

    Raises:
        FileRefused: the file cannot be read or lacks a required column.
    """
    name = path.name
    try:
        if path.suffix.lower() == ".parquet":
            frame = _parquet_as_text(pd.read_parquet(path))
            lines = np.arange(1, len(frame) + 1)  # row number within the Parquet file
        else:
            text = decode_csv_bytes(path.read_bytes())
            frame = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_values=[],
                skipinitialspace=True,
            )
            lines = np.arange(2, len(frame) + 2)  # line 1 is the header
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as error:
        raise FileRefused(name, f"cannot be read: {type(error).__name__}: {error}") from None

    frame.columns = [str(c).strip().lstrip("\ufeff").strip().lower() for c in frame.columns]
    missing = [c for c in source.required_columns if c not in frame.columns]
    if missing:
        raise FileRefused(name, f"missing required column {', '.join(repr(c) for c in missing)}")
    for column in source.column_names:
        if column not in frame.columns:
            frame[column] = ""
    return frame[source.column_names].reset_index(drop=True), lines


def _parquet_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%d")
        else:
            text = values.astype("object").map(lambda v: "" if v is None else str(v))
        out[column] = text.where(values.notna(), "")
    return pd.DataFrame(out, index=frame.index)


def parse_dates(text: pd.Series) -> pd.Series:
    """Parse ISO dates and ``dd/mm/yyyy`` (Buddhist Era when the year is over 2400).

    Unparseable values become NaT; blanks are NaT too.
    """
    text = text.astype("str").str.strip()
    result = pd.to_datetime(
        text.where(text.str.match(r"^\d{4}-\d{2}-\d{2}")), errors="coerce", format="ISO8601"
    )
    todo = result.isna() & (text != "")
    parts = text[todo].str.extract(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
    found = parts[0].notna()
    slashed = found[found].index
    if len(slashed):
        year = parts.loc[slashed, 2].astype(int)
        year = year.where(year < 2400, year - BE_OFFSET)
        assembled = pd.to_datetime(
            pd.DataFrame(
                {
                    "year": year,
                    "month": parts.loc[slashed, 1].astype(int),
                    "day": parts.loc[slashed, 0].astype(int),
                }
            ),
            errors="coerce",
        )
        result.loc[slashed] = assembled
    return result.dt.normalize()


def _masked(value: object, column: Column) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if column.kind == "national_id" and len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    if column.name in ("given_name", "family_name"):
        return "***"
    return text


class _RejectLog:
    def __init__(self, file: str, lines: np.ndarray) -> None:
        self.file = file
        self.lines = lines
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        positions: np.ndarray,
        column: Column | None,
        values: pd.Series | list[str],
        reason: str,
    ) -> None:
        if len(positions) == 0:
            return
        name = column.name if column else ""
        shown = [_masked(v, column) if column else str(v) for v in values]
        self.parts.append(
            pd.DataFrame(
                {
                    "file": self.file,
                    "line": self.lines[positions],
                    "column": name,
                    "value": shown,
                    "reason": reason,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})
        return pd.concat(self.parts, ignore_index=True).sort_values(
            ["line", "column"], kind="stable"
        )


def _normalise_category(text: pd.Series, column: Column) -> pd.Series:
    mapping = {a.casefold(): c for a, c in column.aliases.items()}
    mapping.update({c.casefold(): c for c in column.allowed or ()})
    folded = text.str.casefold()
    mapped = folded.map(mapping)
    if column.name == "grade":
        # "4.0", "1.50" and "๔" style variants of the numeric grades.
        numeric = pd.to_numeric(text, errors="coerce")
        as_grade = numeric.map(lambda v: f"{v:g}" if pd.notna(v) else np.nan)
        mapped = mapped.fillna(as_grade.where(as_grade.isin(column.allowed or ())))
    return mapped.fillna(text)


def _parse_column(raw: pd.Series, column: Column, log: _RejectLog, bad: np.ndarray) -> pd.Series:
    text = raw.astype("str").str.strip()
    # "none" is a real value (caregiver, equity status), never a blank.
    blank = (text == "") | text.str.upper().isin(["NA", "N/A", "NULL", "-"]) & (
        column.kind != "str"
    )
    if column.kind == "str":
        return text.mask(text == "")
    if column.kind == "national_id":
        cleaned = text.str.replace(r"[\s-]", "", regex=True)
        return cleaned.mask(blank)
    if column.kind == "category":
        return _normalise_category(text, column).mask(blank)
    if column.kind in ("int", "float"):
        numeric = pd.to_numeric(text.str.replace(",", "", regex=False).mask(blank), errors="coerce")
        failed = numeric.isna() & ~blank
        if column.kind == "int":
            fractional = numeric.notna() & (numeric != np.floor(numeric.fillna(0)))
            log.add(np.flatnonzero(fractional), column, raw[fractional], "not a whole number")
            bad |= fractional.to_numpy()
            failed &= ~fractional
            numeric = numeric.mask(fractional).astype("Int64")
        log.add(np.flatnonzero(failed), column, raw[failed], "not a number")
        bad |= failed.to_numpy()
        return numeric
    if column.kind == "date":
        dates = parse_dates(text.mask(blank, ""))
        failed = dates.isna() & ~blank
        log.add(
            np.flatnonzero(failed),
            column,
            raw[failed],
            "not a date (YYYY-MM-DD, or dd/mm/yyyy with a Buddhist-Era year)",
        )
        bad |= failed.to_numpy()
        return dates
    if column.kind == "bool":
        folded = text.str.casefold()
        truth = pd.Series(pd.NA, index=text.index, dtype="boolean")
        truth[folded.isin(TRUE_WORDS)] = True
        truth[folded.isin(FALSE_WORDS)] = False
        failed = truth.isna() & ~blank
        log.add(
            np.flatnonzero(failed),
            column,
            raw[failed],
            "not a yes/no value (true/false, 1/0, yes/no, ใช่/ไม่ใช่)",
        )
        bad |= failed.to_numpy()
        return truth
    raise ValueError(f"unknown column kind {column.kind}")


def pandera_schema(source: Source) -> pa.DataFrameSchema:
    """The value rules of one source as a pandera schema over parsed columns."""
    columns = {}
    for c in source.columns:
        checks = []
        if c.allowed is not None:
            allowed: list[object] = list(c.allowed)
            if c.kind == "int":
                allowed = [int(a) for a in c.allowed]
            checks.append(pa.Check.isin(allowed, error=f"must be one of: {', '.join(c.allowed)}"))
        if c.min is not None and c.max is not None:
            checks.append(
                pa.Check.in_range(c.min, c.max, error=f"must be between {c.min:g} and {c.max:g}")
            )
        if c.pattern:
            checks.append(pa.Check.str_matches(c.pattern, error=f"must match {c.pattern}"))
        if c.kind == "national_id":
            checks.append(
                pa.Check(
                    national_id_is_valid, error="not a valid 13-digit national ID (checksum fails)"
                )
            )
        columns[c.name] = pa.Column(nullable=not c.required, checks=checks, coerce=False)
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name=source.name)


# Rules that span columns: (columns named in the report, reason, predicate on parsed rows).
def _cross_column_rules(source: Source, rows: pd.DataFrame) -> list[tuple[str, str, pd.Series]]:
    rules = []
    if source.name == "calendar":
        rules.append(("end_date", "ends before it starts", rows["end_date"] < rows["start_date"]))
    if source.name == "assessments":
        rules.append(("score", "score is above max_score", rows["score"] > rows["max_score"]))
    if source.name == "students":
        future = rows["birth_date"] > pd.Timestamp.now().normalize()
        rules.append(("birth_date", "is in the future", future))
    return rules


def parse_source(raw: pd.DataFrame, lines: np.ndarray, source: Source, file: str) -> ParsedSource:
    """Parse and validate raw text columns; return good rows and rejects."""
    log = _RejectLog(file, lines)
    bad = np.zeros(len(raw), dtype=bool)
    parsed = pd.DataFrame(
        {c.name: _parse_column(raw[c.name], c, log, bad) for c in source.columns}, index=raw.index
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pandera_schema(source).validate(parsed, lazy=True)
        except pa.errors.SchemaErrors as errors:
            _log_schema_failures(
                errors.failure_cases, source, raw, log, bad, already_bad=bad.copy()
            )

    for column_name, reason, rule in _cross_column_rules(source, parsed):
        failing = rule.fillna(False).to_numpy(dtype=bool) & ~bad
        column = source.column(column_name)
        log.add(np.flatnonzero(failing), column, raw[column_name][failing], reason)
        bad |= failing

    duplicate = parsed.duplicated(list(source.key), keep="first").to_numpy() & ~bad
    if duplicate.any():
        first_line = _first_line_of_key(parsed, source, lines)
        positions = np.flatnonzero(duplicate)
        shown = [f"{', '.join(source.key)} as on line {first_line[p]}" for p in positions]
        log.add(positions, None, shown, "duplicate key: same as an earlier line")
        bad |= duplicate

    good = parsed.loc[~bad].reset_index(drop=True)
    return ParsedSource(source, file, good, log.frame(), len(raw), lines[~bad])


def _first_line_of_key(parsed: pd.DataFrame, source: Source, lines: np.ndarray) -> np.ndarray:
    group = parsed.groupby(list(source.key), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(lines).groupby(group).transform("first").to_numpy()
    return first


def _log_schema_failures(
    failures: pd.DataFrame,
    source: Source,
    raw: pd.DataFrame,
    log: _RejectLog,
    bad: np.ndarray,
    already_bad: np.ndarray,
) -> None:
    failures = failures.dropna(subset=["index"])
    for (column_name, check), group in failures.groupby(["column", "check"], sort=False):
        positions = group["index"].astype(int).to_numpy()
        positions = positions[
            ~already_bad[positions]
        ]  # a value that did not parse is reported once
        if len(positions) == 0:
            continue
        column = source.column(str(column_name))
        reason = "required value is missing" if check == "not_nullable" else str(check)
        log.add(positions, column, raw[column.name].iloc[positions], reason)
        bad[positions] = True
