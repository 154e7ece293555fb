"""What an advisor waits for when the database holds a country: pages and API at volume.

Fills a PostgreSQL database with ``--students`` (default 1,000,000) students in 1,000
schools, their enrolments of two school years, help recorded for one in two (the demo's
mix of kinds), the children who came back (one in seventy), ``--weeks`` (default 10)
stored weekly runs and the audit log's rows of each week's lists being read (a row for
every student shown: each advisor's list and each committee's whole school, two rows a
student a week), then starts
the service (``ews serve --workers``, in processes of its own) and has ``--clients``
concurrent users (advisors, care committees, an area office, an analyst who sees every
school, integrations) request,
again and again: the advisor's list, a student page, the committee's plan, the
committee's whole-school list, the area office's page, its referred children and its
actions page (lists read and students nobody acted on), the analyst's area page and
actions page of all 1,000 schools and
``GET /api/v1/risk-list``, each user signed in with their own session (the load is
``benchmarks.http_load``: prepared requests on kept-alive connections, so that the load
generator, on the same two cores, costs little of what is measured). It prints p50 and
p95 of each (after three requests of each route per server worker, not timed: a
server's first), and last:

    worst=<route> p95_ms=<n> students=<n> weeks=<n>

Users who never pause are a stress test: eight of them on two cores keep both busy, so
each request waits for the others'. ``--rates 1,2,4`` instead sends an open load at each
rate (requests a second arriving at random moments, each route equally often, as many
users who each open a page now and then make; ``benchmarks.http_load.run_at_rate``),
prints p50 and p95 of each route at each rate, and last:

    rate_within_target=<the highest rate at which every route's p95 was under 150 ms, 0 if
    none> target_ms=150 students=<n> weeks=<n>

The model the server loads is trained first on a small synthetic set (it does not enter
the timed routes). PostgreSQL is a throwaway cluster of Debian's binaries unless ``--url``
names an empty database (or one an earlier run filled with the same sizes: it is timed
again without filling, about ten minutes saved).

Run: ``make bench-pages``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa

from benchmarks import http_load
from benchmarks.common import synthetic_database, trained_champion
from benchmarks.http_load import request_bytes
from benchmarks.store import _postgres, score_rows
from core import clock
from core.settings import Settings
from devtools.processes import wait_for_workers
from schooldata.actions import keep_last_actions
from schooldata.audit import note_lists_opened
from schooldata.db import insert_columns, insert_rows, make_engine, upgrade
from schooldata.identity import unlinked_person
from schooldata.tables import (
    ORIGIN_IMPORT,
    ORIGIN_SERVICE,
    TABLES,
    audit_log,
    run_schools,
    score_runs,
    student_returns,
    student_scores,
)
from serving.accounts import create_user, set_password
from serving.store import list_counts, note_first_flags

SCHOOLS = 1000
PER_ADVISOR = 40
PASSWORD = secrets.token_urlsafe(16)  # of throwaway accounts in a throwaway database
FIRST_WEEK = date(2026, 1, 5)
PROVINCES = ("ตาก", "เชียงราย", "ขอนแก่น", "สงขลา", "นครราชสีมา")
TARGET_P95_MS = 150  # SPEC section 9: pages and list routes
OPEN_USERS = 8  # sessions an open load's requests take turns as
WARM_UP = 3  # requests of each route per server worker before any is timed


def fill(engine: sa.Engine, students: int, weeks: int) -> None:
    """Schools, students, enrolments and weekly runs, written by COPY."""
    per_school = students // SCHOOLS
    ids = [f"ST{i:08d}" for i in range(students)]
    school_of = [f"S{i // per_school:05d}" for i in range(students)]
    advisor_of = [f"{school_of[i]}-T{(i % per_school) // PER_ADVISOR:03d}" for i in range(students)]
    with engine.begin() as connection:
        insert_rows(
            connection,
            TABLES["schools"],
            [
                {
                    "school_id": f"S{s:05d}",
                    "name": f"โรงเรียน {s}",
                    "province": PROVINCES[s % len(PROVINCES)],
                    "affiliation": "OBEC",
                    "area": "rural",
                    "home_visit_capacity": 5,
                }
                for s in range(SCHOOLS)
            ],
        )
        insert_rows(
            connection,
            TABLES["calendar"],
            [
                {
                    "school_id": "",
                    "academic_year": 2568,
                    "term": 2,
                    "start_date": date(2025, 11, 1),
                    "end_date": date(2026, 3, 31),
                }
            ],
        )
        insert_rows(
            connection,
            TABLES["students"],
            [
                {
                    "student_id": ids[i],
                    "school_id": school_of[i],
                    "person_id": unlinked_person(school_of[i], ids[i]),
                    "given_name": "สมชาย",
                    "family_name": f"ใจดี{i % 97}",
                    "sex": "M" if i % 2 else "F",
                    "nationality": "TH",
                    "disability": "none",
                }
                for i in range(students)
            ],
        )
        insert_rows(
            connection,
            TABLES["enrollments"],
            [
                {
                    "student_id": ids[i],
                    "academic_year": 2568,
                    "term": 2,
                    "school_id": school_of[i],
                    "grade_level": "M1",
                    "classroom": f"M1/{(i % per_school) // PER_ADVISOR + 1}",
                    "advisor_id": advisor_of[i],
                    "snapshot_date": date(2025, 11, 10),
                }
                for i in range(students)
            ],
        )
        history(connection, ids, school_of, advisor_of)
    for week in range(weeks):
        as_of = FIRST_WEEK + timedelta(days=7 * week)
        with engine.begin() as connection:
            run_id = int(
                connection.execute(
                    sa.insert(score_runs).values(
                        as_of=as_of,
                        model_version="1",
                        created_at=datetime.now(UTC).replace(tzinfo=None),
                        students=students,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            rows = score_rows(students, run_id, per_school, seed=week)
            insert_rows(connection, student_scores, rows)
            note_first_flags(connection, run_id, as_of)  # as store.store_run keeps them
            # The per-school counts the weekly run stores with the run (store.store_run).
            counts = list_counts(pd.DataFrame(rows)).set_index("school_id")
            insert_rows(
                connection,
                run_schools,
                [
                    {
                        "run_id": run_id,
                        "school_id": f"S{s:05d}",
                        "enrolled": per_school,
                        "scored": per_school,
                        "newest_attendance": as_of - timedelta(days=3),
                        "stale": False,
                        **{k: int(v) for k, v in counts.loc[f"S{s:05d}"].items()},
                    }
                    for s in range(SCHOOLS)
                ],
            )
            list_reads(connection, as_of, ids, school_of, advisor_of)
        print(f"  stored week {as_of}", flush=True)


# The terms before this one a school's records hold: two school years.
EARLIER_TERMS = ((2567, 1, "P6"), (2567, 2, "P6"), (2568, 1, "M1"))
HELPED_EVERY = 2  # one student in two has had help recorded (the demo's data: 0.47)
RETURNED_EVERY = 70  # one in seventy came back after leaving (the demo's: 1.4%)


def history(
    connection: sa.Connection, ids: list[str], school_of: list[str], advisor_of: list[str]
) -> None:
    """What a real school's records hold beside this term's enrolments, and the pages
    read: the earlier terms' enrolments, help recorded (imported from the school's
    files, and on the pages), and children who came back after leaving."""
    students = len(ids)
    for year, term, grade in EARLIER_TERMS:
        insert_columns(
            connection,
            TABLES["enrollments"],
            ["student_id", "academic_year", "term", "school_id", "grade_level", "advisor_id"],
            [(ids[i], year, term, school_of[i], grade, advisor_of[i]) for i in range(students)],
        )
    # The demo's mix of help: visits first, a referral outside the school in twenty.
    types = (
        ("home_visit",) * 11
        + ("parent_meeting",) * 3
        + ("scholarship_referral", "counselling") * 2
        + ("tutoring", "external_referral")
    )
    # A fifth recorded on the pages (origin "service"), the rest loaded from files.
    insert_columns(
        connection,
        TABLES["interventions"],
        ["school_id", "student_id", "date", "type", "outcome", "origin"],
        [
            (
                school_of[i],
                ids[i],
                date(2025, 6, 2) + timedelta(days=n % 280),
                types[n % len(types)],
                "done",
                ORIGIN_SERVICE if n % 5 == 0 else ORIGIN_IMPORT,
            )
            for n, i in enumerate(range(0, students, HELPED_EVERY))
        ],
    )
    keep_last_actions(connection, schools=set(school_of))  # as every writer of help does
    insert_columns(
        connection,
        student_returns,
        [c.name for c in student_returns.columns],
        [
            (
                school_of[i],
                ids[i],
                date(2025, 11, 1),
                2568,
                2,
                unlinked_person(school_of[i], ids[i]),
                school_of[(i + students // 2) % students],
                date(2025, 6, 30),
                None,
            )
            for i in range(0, students, RETURNED_EVERY)
        ],
    )


def list_reads(
    connection: sa.Connection,
    week: date,
    ids: list[str],
    school_of: list[str],
    advisor_of: list[str],
) -> None:
    """The audit log's rows of a week's lists being read, as the service writes them (a
    row for each student shown, and each reader's list opened that day): each advisor
    opens their list on Monday morning, each committee its whole school's on Tuesday.
    Its hash chain is left out (not timed)."""
    advisor_ids = {a: n for n, a in enumerate(dict.fromkeys(advisor_of))}
    school_ids = {s: n for n, s in enumerate(dict.fromkeys(school_of))}
    # Bangkok's 08:00 and 09:00, stored in UTC.
    advisors_at = datetime.combine(week, datetime.min.time()) + timedelta(hours=1)
    committee_at = advisors_at + timedelta(days=1, hours=1)
    insert_columns(
        connection,
        audit_log,
        ["at", "user_id", "action", "endpoint", "school_id", "student_id"],
        [
            (
                advisors_at,
                1_000_000 + advisor_ids[advisor_of[i]],
                "read",
                "GET /list",
                school_of[i],
                ids[i],
            )
            for i in range(len(ids))
        ]
        + [
            (
                committee_at,
                2_000_000 + school_ids[school_of[i]],
                "read",
                "GET /list",
                school_of[i],
                ids[i],
            )
            for i in range(len(ids))
        ],
    )
    note_lists_opened(
        connection,
        {
            (school_of[i], clock.day_of(at), reader)
            for i in range(len(ids))
            for at, reader in (
                (advisors_at, 1_000_000 + advisor_ids[advisor_of[i]]),
                (committee_at, 2_000_000 + school_ids[school_of[i]]),
            )
        },
    )


def _signed_in(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None, "no CSRF field on the login page"
    reply = client.post(
        "/login", data={"csrf": token.group(1), "username": username, "password": PASSWORD}
    )
    assert reply.status_code == 303, f"sign-in of {username} failed ({reply.status_code})"
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="per client and route")
    parser.add_argument(
        "--rates",
        help="instead of --clients users without pause, an open load at each of these "
        "rates (requests a second, comma-separated: '1,2,4'), --requests of each route "
        "at each rate",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (default: one per core, as the README advises)",
    )
    parser.add_argument(
        "--url",
        help="an empty PostgreSQL database, or one an earlier run filled with the same "
        "--students and --weeks (timed again without filling); default: a throwaway one",
    )
    args = parser.parse_args()
    rates = _rates(parser, args.rates) if args.rates else []
    with _postgres(args.url) as url, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print("training a small model for the server to load", flush=True)
        small = synthetic_database(work / "small", students=900, schools=6)
        settings, bundle, version = trained_champion(small, work / "store")
        engine = make_engine(url)
        upgrade(engine)
        if _filled(engine, args.students, args.weeks):
            print(f"{url}: already filled by this benchmark, timed again", flush=True)
        else:
            started = time.perf_counter()
            fill(engine, args.students, args.weeks)
            print(
                f"filled {args.students:,} students x {args.weeks} weeks in "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
            # What a database's routine maintenance has done by the time anyone asks: the
            # statistics, and the visibility map that lets index-only scans skip the
            # table (else autovacuum would be doing this during the timed requests).
            started = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE"))
            print(f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s", flush=True)
        served = Settings(
            database_url=url,
            mlflow_tracking_uri=settings.mlflow_tracking_uri,
            mlflow_artifact_root=settings.mlflow_artifact_root,
            secrets_file=work / "secrets.json",
        )
        run = secrets.token_hex(4)  # accounts of this run (the database may be timed again)
        accounts = {
            "advisor": create_user(
                engine,
                "advisor",
                "ครู",
                staff_id="S00000-T000",
                school_id="S00000",
                username=f"advisor-{run}",
            ),
            "committee": create_user(
                engine, "committee", "กรรมการ", school_id="S00000", username=f"committee-{run}"
            ),
            "area": create_user(
                engine,
                "area",
                "เขตพื้นที่",
                username=f"area-{run}",
                schools=[f"S{s:05d}" for s in range(0, SCHOOLS, 20)],
            ),
            # Every school: an analyst's (or a province's) area page at national size.
            "analyst": create_user(engine, "analyst", "นักวิเคราะห์", username=f"analyst-{run}"),
        }
        for user, _ in accounts.values():
            set_password(engine, user.user_id, PASSWORD, "bench", must_change=False)
        token = accounts["committee"][1]
        port = _free_port()
        # The server in its own processes, as `ews serve` runs it: the load's client
        # threads here never share an interpreter with it.
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("ews")),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=os.environ
            | {
                "EWS_DATABASE_URL": url,
                "EWS_MLFLOW_TRACKING_URI": str(served.mlflow_tracking_uri),
                "EWS_MLFLOW_ARTIFACT_ROOT": str(served.mlflow_artifact_root),
                "EWS_SECRETS_FILE": str(served.secrets_file),
            },
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        # Every worker listening: one still loading would leave its share of the users'
        # connections to the others.
        wait_for_workers(server, port, args.workers)
        routes = {
            "GET /list (advisor)": ("advisor", "/list"),
            "GET /students/{id} (advisor)": ("advisor", "/students/ST00000001"),
            "GET /plan (committee)": ("committee", "/plan"),
            "GET /list (committee)": ("committee", "/list"),
            "GET /area (area office)": ("area", "/area"),
            "GET /area/referred (area office)": ("area", "/area/referred"),
            "GET /area (analyst, 1,000 schools)": ("analyst", "/area"),
            "GET /area/actions (area office)": ("area", "/area/actions"),
            "GET /area/actions (analyst, 1,000 schools)": ("analyst", "/area/actions"),
            "GET /api/v1/risk-list (token)": (None, "/api/v1/risk-list?limit=200"),
        }
        loads: dict[float | None, dict[str, list[float]]]
        try:
            # Not timed: each worker's first requests (its pool's connections, the
            # templates, the database's cache), which a server running for days has made.
            _load(base, routes, token, args.workers, WARM_UP, run)
            if rates:
                loads = {
                    rate: _open_load(base, routes, token, rate, args.requests, run)
                    for rate in rates
                }
            else:
                loads = {None: _load(base, routes, token, args.clients, args.requests, run)}
        finally:
            server.terminate()
            server.wait(timeout=30)
        engine.dispose()
    if not rates:
        worst = _report(loads[None])
        print(f"worst={worst[0]} p95_ms={worst[1]:.0f} students={args.students} weeks={args.weeks}")
        return
    within = 0.0
    for rate in rates:
        print(f"\nan open load of {rate:g} requests a second:")
        worst = _report(loads[rate])
        print(f"rate={rate:g} worst={worst[0]} p95_ms={worst[1]:.0f}")
        if worst[1] < TARGET_P95_MS:
            within = max(within, rate)
    print(
        f"rate_within_target={within:g} target_ms={TARGET_P95_MS} students={args.students} "
        f"weeks={args.weeks}"
    )


def _rates(parser: argparse.ArgumentParser, text: str) -> list[float]:
    """The arrival rates of ``--rates``, each a positive number."""
    try:
        rates = [float(part) for part in text.split(",")]
    except ValueError:
        parser.error(f"--rates takes numbers separated by commas, not {text!r}")
    if any(rate <= 0 for rate in rates):
        parser.error(f"--rates must all be above 0, not {text!r}")
    return rates


def _report(timings: dict[str, list[float]]) -> tuple[str, float]:
    """Print each route's p50 and p95; return the route with the highest p95, and it."""
    worst = ("", 0.0)
    for route, values in timings.items():
        p50, p95 = _quantile(values, 0.5), _quantile(values, 0.95)
        print(f"{route}: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(values)} requests)")
        if p95 > worst[1]:
            worst = (route.split(" (")[0].replace(" ", "_"), p95)
    return worst


def _filled(engine: sa.Engine, students: int, weeks: int) -> bool:
    """True when ``--url`` holds what an earlier run of this benchmark filled it with."""
    with engine.connect() as connection:
        runs = connection.execute(sa.select(sa.func.count()).select_from(score_runs)).scalar()
        enrolled = connection.execute(
            sa.select(sa.func.count()).select_from(TABLES["students"])
        ).scalar()
    return runs == weeks and enrolled == students


def _load(
    base: str,
    routes: dict[str, tuple[str | None, str]],
    token: str,
    clients: int,
    requests: int,
    run: str,
) -> dict[str, list[float]]:
    """Each client signs in as every role, then its requests of every route, ``requests``
    times, are sent ``clients`` at a time (``benchmarks.http_load``)."""
    prepared = _prepared(base, routes, token, clients, run)
    work = (
        (route, prepared[client][route])
        for _ in range(requests)
        for client in range(clients)
        for route in routes
    )
    return asyncio.run(http_load.run(base, work, clients))[1]


def _open_load(
    base: str,
    routes: dict[str, tuple[str | None, str]],
    token: str,
    rate: float,
    requests: int,
    run: str,
) -> dict[str, list[float]]:
    """Every route ``requests`` times in a random order, arriving ``rate`` a second
    (``benchmarks.http_load.run_at_rate``), each as one of ``OPEN_USERS`` users signed in
    in turn."""
    prepared = _prepared(base, routes, token, OPEN_USERS, run)
    order = [route for route in routes for _ in range(requests)]
    random.Random(0).shuffle(order)
    work = [(route, prepared[i % OPEN_USERS][route]) for i, route in enumerate(order)]
    seconds, timings = asyncio.run(http_load.run_at_rate(base, work, rate))
    print(f"{len(work)} requests in {seconds:.1f} s ({len(work) / seconds:.1f} a second)")
    return timings


def _prepared(
    base: str, routes: dict[str, tuple[str | None, str]], token: str, users: int, run: str
) -> list[dict[str, bytes]]:
    """For each of ``users`` users, every route's request, signed in as its role."""
    prepared: list[dict[str, bytes]] = []
    for _ in range(users):
        headers: dict[str | None, dict[str, str]] = {None: {"Authorization": f"Bearer {token}"}}
        for role in {r for r, _ in routes.values() if r}:
            session = _signed_in(base, f"{role}-{run}")
            cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            session.close()
            headers[role] = {"Cookie": cookies}
        prepared.append(
            {
                route: request_bytes("GET", base + path, headers[role])
                for route, (role, path) in routes.items()
            }
        )
    return prepared


def _quantile(values: list[float], q: float) -> float:
    return (
        float(statistics.quantiles(values, n=100)[int(q * 100) - 1])
        if len(values) > 1
        else values[0]
    )


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
