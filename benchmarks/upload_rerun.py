"""Benchmark: from a data officer's upload confirmation to their school's refreshed list.

Run with ``make bench-upload``. It generates three synthetic schools of ``--students``
each over two years (the largest has about 2,000 enrolled on the day), ingests them,
trains and promotes a model, and stores the weekly run of the data's last Monday. Then,
as the upload page does, the largest school's data officer uploads that school's
attendance of the week before it (the contract's CSV), confirms it, and the service's
scheduler recomputes the school's list of the week in a process of its own (``ews score
--school``, as after every upload). It prints the seconds from the confirmation to the
refreshed list, and the whole week's run of every school beside it (its peer, measured
in the same run).

The last line is ``students=<n> confirm_to_list_s=<x> whole_week_s=<y> goal_s=30``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from benchmarks.common import trained_champion
from schooldata.calendar import newest_attendance_day
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.tables import TABLES, job_runs, score_runs
from serving import uploads
from serving.accounts import create_user
from serving.schedule import WeekRunner
from synth import SynthConfig, generate, write_directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--students",
        type=int,
        default=5000,
        help="students per school over the years (the largest lists about 2,000 on the day)",
    )
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-upload"))
    args = parser.parse_args()
    work = args.work_dir
    shutil.rmtree(work, ignore_errors=True)  # a fresh database and store every run
    data = work / "data"
    write_directory(
        generate(SynthConfig(schools=3, students=3 * args.students, years=2, defect_rate=0.0)), data
    )
    engine = make_engine(f"sqlite:///{work / 'ews.db'}")
    ingest_directory(data, engine, "bench-upload-key", work / "rejects")
    settings, _bundle, version = trained_champion(engine, work / "store")
    settings = settings.model_copy(update={"upload_dir": work / "uploads"})
    newest = newest_attendance_day(engine)
    assert newest is not None, "the generated data has attendance"
    monday = newest - timedelta(days=newest.weekday())
    runner = WeekRunner(settings, engine)
    started = time.perf_counter()
    week = runner.tick(pd.Timestamp(monday).to_pydatetime())
    whole = time.perf_counter() - started
    if week.status != "done":
        raise SystemExit(f"the week's run did not finish: {week}")

    enrolled = pd.read_sql(
        sa.select(TABLES["enrollments"].c.school_id, TABLES["enrollments"].c.student_id), engine
    )
    school = enrolled["school_id"].value_counts().index[0]
    attendance = pd.read_csv(data / "attendance.csv", dtype=str)
    if "school_id" in attendance:
        attendance = attendance[attendance["school_id"] == school]
    days = pd.to_datetime(attendance["date"], errors="coerce", format="%Y-%m-%d")
    last_week = attendance[
        (days < pd.Timestamp(monday)) & (days >= pd.Timestamp(monday - timedelta(days=7)))
    ]
    codes = set(enrolled.loc[enrolled["school_id"] == school, "student_id"])
    last_week = last_week[last_week["student_id"].isin(codes)]
    officer, _ = create_user(engine, "data_officer", "เจ้าหน้าที่ข้อมูล", school_id=school)
    staged = uploads.stage(
        settings,
        engine,
        officer,
        [
            (
                "attendance.csv",
                last_week.drop(columns="school_id", errors="ignore").to_csv(index=False).encode(),
            )
        ],
    )

    started = time.perf_counter()
    uploads.confirm(settings, engine, officer, staged.token)
    confirmed = time.perf_counter() - started
    runner.rerun_school(school)
    runner.reruns[-1].join()
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        rerun = connection.execute(
            sa.select(job_runs.c.status, job_runs.c.detail).where(job_runs.c.kind == "school")
        ).one()
        runs = connection.execute(sa.select(sa.func.count()).select_from(score_runs)).scalar()
    if rerun.status != "done":
        raise SystemExit(f"the school's rerun failed: {rerun.detail}")
    scored = pd.read_sql(
        sa.text("SELECT count(*) AS n FROM student_scores WHERE school_id = :s"),
        engine,
        params={"s": school},
    )["n"].iloc[0]
    print(
        f"model v{version}; week of {monday}: whole run of 3 schools {whole:.1f} s; "
        f"school {school} ({scored:,} students on its list, {len(last_week):,} attendance rows "
        f"uploaded): confirmed in {confirmed:.1f} s, list refreshed {seconds:.1f} s after the "
        f"confirmation began ({runs} stored run: refreshed in place)"
    )
    print(f"students={scored} confirm_to_list_s={seconds:.1f} whole_week_s={whole:.1f} goal_s=30")


if __name__ == "__main__":
    main()
