"""Writing a national week's results: PostgreSQL's bulk path against batched inserts.

Builds one weekly run's rows for N students (default 1,000,000; ranks, risks, tiers and
an eight-reason explanation each, as the weekly run stores them) and appends them in one
transaction three ways, each timed in the same run:

- PostgreSQL with ``COPY`` (``schooldata.db.insert_rows``, what the weekly run uses);
- PostgreSQL with batched ``INSERT`` (SQLAlchemy's executemany: the peer);
- SQLite with batched ``INSERT`` (what the weekly run uses there).

PostgreSQL is a throwaway cluster of Debian's binaries unless ``--url`` names one.

Run: ``make bench-store`` (or ``python -m benchmarks.store --students 1000000``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from schooldata.db import INSERT_BATCH, insert_rows, make_engine, upgrade
from schooldata.tables import score_runs, student_scores


def score_rows(
    students: int, run_id: int, per_school: int = 1000, seed: int = 0
) -> list[dict[str, Any]]:
    """One weekly run's rows as the weekly run stores them: ``per_school`` students a
    school, 40 an advisor, ranked by risk within the school, tiers by rank, and an
    eight-reason explanation each."""
    rng = np.random.default_rng(seed)
    risk = np.sort(rng.beta(1, 25, per_school))[::-1]  # each school: the same spread
    reasons = json.dumps(
        [{"feature": "absence_rate_20d", "text_th": "ขาดเรียน 6 จาก 20 วัน", "text_en": "6 of 20"}]
        * 3,
        ensure_ascii=False,
    )
    contributions = json.dumps(
        [{"feature": f"f{i}", "value": 0.1 * i, "shap": 0.01 * i} for i in range(8)]
    )
    rows = []
    for i in range(students):
        rank = i % per_school + 1
        school = f"S{i // per_school:05d}"
        rows.append(
            {
                "run_id": run_id,
                "student_id": f"ST{i:08d}",
                "school_id": school,
                "advisor_id": f"{school}-T{(rank - 1) // 40:03d}",
                "classroom": f"M1/{(rank - 1) // 40 + 1}",
                "grade_level": "M1",
                "risk": float(risk[rank - 1]),
                "raw_score": float(np.log(risk[rank - 1] / (1 - risk[rank - 1]))),
                "base_value": -3.2,
                "tier": "high" if rank <= 5 else "watch" if rank <= 30 else "low",
                "rank_in_school": rank,
                "rank_in_advisor": (rank - 1) % 40 + 1,
                "risk_vs_school": 1.0,
                "contributions": contributions,
                "reasons": reasons,
                "suggested_step_th": "เยี่ยมบ้าน",
                "suggested_step_en": "home visit",
                "change": "same",
                "previous_rank_in_school": rank,
            }
        )
    return rows


def _new_run(connection: sa.Connection, version: str) -> int:
    return int(
        connection.execute(
            sa.insert(score_runs).values(
                as_of=date(2026, 1, 5),
                model_version=version,
                created_at=datetime.now(UTC).replace(tzinfo=None),
                students=0,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def _timed(engine: sa.Engine, students: int, bulk: bool) -> float:
    with engine.begin() as connection:
        run_id = _new_run(connection, "copy" if bulk else "insert")
    rows = score_rows(students, run_id)
    started = time.perf_counter()
    with engine.begin() as connection:
        if bulk:
            insert_rows(connection, student_scores, rows)
        else:
            for start in range(0, len(rows), INSERT_BATCH):
                connection.execute(sa.insert(student_scores), rows[start : start + INSERT_BATCH])
    return time.perf_counter() - started


@contextlib.contextmanager
def _postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from devtools.postgres import postgres_server

    with postgres_server() as server:
        if server is None:
            raise SystemExit("no PostgreSQL here: install Debian's postgresql or pass --url")
        yield server.new_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway one)")
    args = parser.parse_args()
    students: int = args.students
    with _postgres(args.url) as url, tempfile.TemporaryDirectory() as folder:
        pg = make_engine(url)
        upgrade(pg)
        copy = _timed(pg, students, bulk=True)
        batched = _timed(pg, students, bulk=False)
        lite = make_engine(f"sqlite:///{Path(folder) / 'store.db'}")
        upgrade(lite)
        sqlite_seconds = _timed(lite, students, bulk=True)
        pg.dispose()
    print(f"PostgreSQL COPY: {copy:.1f} s for {students:,} students ({students / copy:,.0f}/s)")
    print(f"PostgreSQL batched INSERT: {batched:.1f} s ({students / batched:,.0f}/s), the peer")
    print(f"SQLite batched INSERT: {sqlite_seconds:.1f} s ({students / sqlite_seconds:,.0f}/s)")
    print(
        f"students={students} copy_s={copy:.1f} insert_s={batched:.1f} "
        f"copy_speedup={batched / copy:.2f} sqlite_s={sqlite_seconds:.1f}"
    )


if __name__ == "__main__":
    main()
