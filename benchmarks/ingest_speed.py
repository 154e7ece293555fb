"""How fast the demo's data loads into SQLite, against a plain load of the same files.

Writes the default synthetic data (20 schools, 12,000 students, 3 years) twice: as the
contract's CSV only, and with two schools as they keep their files (Excel, Thai headers
and values, monthly class registers). Each is validated and loaded into a fresh SQLite
database by ``ews ingest``'s code; the peer, measured in the same run, is pandas reading
the same CSVs and writing them with ``to_sql`` (no validation, no upsert, no report).
Each load runs in a fresh process, whose peak memory is printed beside its time: the
demo's one attendance file of 5.5 million rows is the largest a load reads.

Run: ``make bench-ingest`` (or ``python -m benchmarks.ingest_speed --work-dir DIR``).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from devtools.processes import peak_gb
from schooldata.db import make_engine
from schooldata.ingest import IngestReport, ingest_directory
from synth import SynthConfig, generate, write_directory


def _load(directory: Path, folder: Path) -> tuple[float, IngestReport]:
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{folder / 'ews.db'}")
    started = time.perf_counter()
    report = ingest_directory(directory, engine, "benchmark-key", folder / "rejects")
    return time.perf_counter() - started, report


def _plain(directory: Path, folder: Path) -> float:
    """The peer: read every CSV with pandas and append it to SQLite as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with sqlite3.connect(folder / "plain.db") as connection:
        for path in sorted(directory.glob("*.csv")):
            encoding = "cp874" if path.stem == "screenings" else "utf-8-sig"
            frame = pd.read_csv(path, dtype=str, encoding=encoding)
            frame.to_sql(path.stem, connection, index=False, chunksize=50_000)
    return time.perf_counter() - started


def _measured(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    return function(*args), peak_gb()


def _in_a_fresh_process(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """What ``function`` returns, and the peak memory (GB) of the fresh process it ran in."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        result: tuple[Any, float] = pool.submit(_measured, function, *args).result()
        return result


def _attendance(report: IngestReport) -> tuple[int, int]:
    files = [s for s in report.sources if s.source == "attendance"]
    registers = sum(s.rows_loaded for s in files if not s.file.endswith(".csv"))
    return sum(s.rows_loaded for s in files), registers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-ingest"))
    parser.add_argument("--students", type=int, default=12_000)
    args = parser.parse_args()
    work: Path = args.work_dir
    shutil.rmtree(work, ignore_errors=True)
    result = generate(SynthConfig(schools=20, students=args.students))
    write_directory(result, work / "csv")
    write_directory(result, work / "mixed", school_files=2)

    plain, plain_peak = _in_a_fresh_process(_plain, work / "csv", work / "plain")
    (csv_seconds, csv_report), csv_peak = _in_a_fresh_process(_load, work / "csv", work / "db-csv")
    (mixed_seconds, mixed_report), mixed_peak = _in_a_fresh_process(
        _load, work / "mixed", work / "db-mixed"
    )

    rows, _ = _attendance(csv_report)
    mixed_rows, from_registers = _attendance(mixed_report)
    print(
        f"plain pandas read_csv + to_sql of the CSVs: {plain:.1f} s, peak {plain_peak:.2f} GB"
        " (the peer)"
    )
    print(
        f"ews ingest, contract CSV: {csv_seconds:.1f} s for {rows:,} attendance rows "
        f"({rows / csv_seconds:,.0f} rows/s), writing {csv_report.write_seconds:.1f} s; "
        f"peak {csv_peak:.2f} GB"
    )
    print(
        f"ews ingest, two schools as Excel with class registers: {mixed_seconds:.1f} s for "
        f"{mixed_rows:,} attendance rows ({from_registers:,} from registers); "
        f"peak {mixed_peak:.2f} GB"
    )
    print(
        f"attendance_rows={rows} ingest_s={csv_seconds:.1f} "
        f"vs_plain={csv_seconds / plain:.2f} excel_vs_csv={mixed_seconds / csv_seconds:.2f} "
        f"peak_vs_plain={csv_peak / plain_peak:.2f}"
    )


if __name__ == "__main__":
    main()
