"""The same product on PostgreSQL: migrations, ingest, the weekly run and the API.

Production runs on PostgreSQL (``EWS_DATABASE_URL=postgresql+psycopg://…``); every other
test uses SQLite. These run the same paths on a real temporary PostgreSQL server and
compare with SQLite.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.postgres import PostgresServer, postgres_server
from riskmodel.bundle import FLAGGED
from schooldata import audit
from schooldata.db import (
    among,
    among_students,
    among_students_parameter,
    array_literal,
    copy_text,
    insert_columns,
    make_engine,
    read_table,
    reading,
    students_parameters,
    upgrade,
)
from schooldata.ingest import ingest_directory
from schooldata.loads import CannotUndo
from schooldata.loads import undo as undo_load
from schooldata.partitions import plan_partitions
from schooldata.tables import (
    ORIGIN_SERVICE,
    TABLES,
    audit_log,
    case_notes,
    first_flags,
    history_grants,
    lists_opened,
    missing_case_notes,
    missing_cases,
    plan_orders,
    score_runs,
    student_scores,
)
from serving import area, followups, records
from serving.access import StudentKey
from serving.accounts import Caller, User, create_user
from serving.messages import schools_left_out
from serving.operations import school_in_list
from serving.scoring import weekly_run
from serving.store import RANK_COLUMNS, RunReplaced, replace_school
from tests.conftest import (
    ID_KEY,
    kept_last_actions,
    record_staff_visit,
    scratch_settings,
    unavailable,
)
from tests.serving.conftest import (
    WEEKS,
    Api,
    assert_same_run,
    check_retries,
    make_late,
    open_referrals,
    records_in_force,
    running_server,
    stored_run,
)
from tests.serving.test_followups import history_actions, school_files
from tests.serving.test_fuzz import EXAMPLES, fuzz


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        if server is None:
            message = (
                "PostgreSQL is not installed here: `apt-get install postgresql` "
                "(make test does it where it can)"
            )
            unavailable(message)
        yield server


@pytest.fixture(scope="module")
def pg_engine(
    postgres: PostgresServer, synthetic_directory: Path, tmp_path_factory: pytest.TempPathFactory
) -> sa.Engine:
    """The small synthetic directory ingested into a new PostgreSQL database."""
    engine = make_engine(postgres.new_database())
    ingest_directory(synthetic_directory, engine, ID_KEY, tmp_path_factory.mktemp("rejects"))
    return engine


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


@pytest.mark.slow
def test_ingest_twice_into_postgresql_reads_back_like_sqlite(
    pg_engine: sa.Engine,
    synthetic_engine: sa.Engine,
    synthetic_directory: Path,
    tmp_path: Path,
) -> None:
    assert pg_engine.dialect.name == "postgresql"
    ingest_directory(synthetic_directory, pg_engine, ID_KEY, tmp_path / "rejects")

    for name in TABLES:
        ours, reference = read_table(pg_engine, name), read_table(synthetic_engine, name)
        assert len(reference) > 0, name
        pd.testing.assert_frame_equal(_sorted(ours), _sorted(reference), obj=name)


def test_weekly_runs_on_postgresql_equal_sqlite(
    api: Api, pg_engine: sa.Engine, whole_run: pd.DataFrame, dask_cluster_client: object
) -> None:
    as_of = pd.Timestamp(WEEKS[-1])
    first = weekly_run(pg_engine, api.scorer, as_of)
    assert_same_run(stored_run(pg_engine), whole_run)

    # Partitioned on Dask: every task opens its own connection from the URL.
    url = pg_engine.url.render_as_string(hide_password=False)
    tasks = plan_partitions(url, None, schools_per_task=2)
    again = weekly_run(pg_engine, api.scorer, as_of, partitions=tasks, client=dask_cluster_client)

    assert again.replaced
    assert again.students == first.students
    assert_same_run(stored_run(pg_engine), whole_run)


def test_two_runs_of_one_week_at_once_both_end_on_postgresql(
    api: Api, pg_engine: sa.Engine, whole_run: pd.DataFrame
) -> None:
    """The scheduler's run and a typed ``ews score`` of the same week at once: the second
    to store waits for the first and replaces its run. Before, both read "no run of the
    week yet" and the second broke the week's key (a UniqueViolation after the whole
    run's work)."""
    as_of = pd.Timestamp(WEEKS[-1])

    def run(both: threading.Barrier) -> tuple[int, bool]:
        both.wait()
        report = weekly_run(pg_engine, api.scorer, as_of)
        return report.run_id, report.replaced

    for _ in range(2):
        both = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            (first, _), (_, replaced) = sorted(pool.map(run, (both, both)))
        assert replaced  # the second to store replaced the first's run
        assert_same_run(stored_run(pg_engine), whole_run)
    # A school's list made again into the run that was replaced meanwhile is refused,
    # not written under a run that is gone.
    nobody = pd.DataFrame(columns=RANK_COLUMNS)
    with pytest.raises(RunReplaced, match="made again"):
        replace_school(pg_engine, first, api.school, nobody, results=[], schools=nobody)


def test_the_api_serves_lists_and_records_visits_from_postgresql(
    api: Api, pg_engine: sa.Engine
) -> None:
    for week in WEEKS:
        latest = weekly_run(pg_engine, api.scorer, pd.Timestamp(week))
    scores = stored_run(pg_engine)
    scores = scores[scores["run_id"] == latest.run_id].reset_index(level="school_id")
    school = scores["school_id"].iloc[0]
    token = create_user(pg_engine, "committee", "กรรมการ", school_id=school)[1]
    settings = api.settings.model_copy(
        update={"database_url": pg_engine.url.render_as_string(hide_password=False)}
    )
    headers = {"Authorization": f"Bearer {token}"}

    with running_server(settings) as url:
        listed = httpx.get(f"{url}/api/v1/risk-list", headers=headers, timeout=60).json()
        plan = httpx.get(
            f"{url}/api/v1/schools/{school}/home-visit-plan?capacity=2", headers=headers, timeout=60
        ).json()
        visited = plan["students"][0]["student_id"]
        visit = {"student_id": visited, "date": WEEKS[1], "type": "home_visit", "outcome": "done"}
        with ThreadPoolExecutor(4) as pool:  # one record sent four times at once, one key
            sent = list(
                pool.map(
                    lambda _: httpx.post(
                        f"{url}/api/v1/interventions",
                        headers=headers | {"Idempotency-Key": "visit-1"},
                        json=visit,
                        timeout=60,
                    ),
                    range(4),
                )
            )
        history = httpx.get(
            f"{url}/api/v1/students/{visited}/interventions", headers=headers, timeout=60
        )

    in_school = scores[scores["school_id"] == school].sort_values("rank_in_school")
    assert listed["as_of"] == WEEKS[1]
    assert [s["student_id"] for s in listed["students"]] == list(in_school.index)
    assert len(plan["students"]) == 2
    assert sorted(r.status_code for r in sent) == [200, 200, 200, 201], sent[0].text
    assert len({r.json()["intervention_id"] for r in sent}) == 1
    assert history.status_code == 200
    assert [r["date"] for r in history.json()].count(WEEKS[1]) == 1


def test_a_key_taken_between_the_check_and_the_insert_on_postgresql(
    pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's unique index refuses the second of two requests with one key that
    both found no record (psycopg's UniqueViolation): it answers the first's record."""
    enrolled = read_table(pg_engine, "enrollments", columns=["school_id", "student_id"])
    student = StudentKey(*enrolled.iloc[0])
    committee, _ = create_user(pg_engine, "committee", "กรรมการ", school_id=student.school_id)
    caller, day = Caller(committee, "test"), date.fromisoformat(WEEKS[1])
    visit = {"kind": "letter", "outcome": "done", "request_key": "at-the-same-moment"}
    first, made = records.record_intervention(pg_engine, caller, student, day, **visit)
    looked_up, missed = records._by_request, []

    def before_the_first_commits(*args: object) -> object:
        if not missed:
            missed.append(True)
            return None
        return looked_up(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(records, "_by_request", before_the_first_commits)
    second, made_again = records.record_intervention(pg_engine, caller, student, day, **visit)

    assert (made, made_again) == (True, False)
    assert second == first


def test_a_page_form_sent_twice_at_once_writes_once_on_postgresql(pg_engine: sa.Engine) -> None:
    """A case's note form sent twice at the same moment (``serving.once``): the second's
    claim of the form's key waits on the first's transaction and writes nothing; the same
    key sent with another note is refused."""
    from serving import cases, once

    enrolled = read_table(pg_engine, "enrollments", columns=["school_id", "student_id"])
    student = StudentKey(*enrolled.iloc[-1])
    member, _ = create_user(pg_engine, "committee", "กรรมการ", school_id=student.school_id)
    caller = Caller(member, "test")
    case_id = cases.open_case(pg_engine, caller, student, planned="home_visit")
    note = "โทรหาแม่แล้ว"
    sending = once.sent(member.user_id, "one-form", case_id, note)
    both = threading.Barrier(2)

    def send(_: int) -> None:
        both.wait()
        cases.add_note(pg_engine, caller, case_id, note, once=sending)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(send, (1, 2)))
    other = once.sent(member.user_id, "one-form", case_id, "อีกเรื่อง")
    with pytest.raises(records.KeySentAgain):
        cases.add_note(pg_engine, caller, case_id, "อีกเรื่อง", once=other)

    with pg_engine.connect() as connection:
        written = connection.execute(
            sa.select(case_notes.c.text).where(case_notes.c.case_id == case_id)
        ).scalars()
        assert list(written) == [note]


def test_two_findings_on_one_missing_case_at_once_keep_the_first_on_postgresql(
    pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two colleagues record what they found on one child to look for, each from the case
    as both read it: the second's findings were written over the first's. Now the second
    finds the case changed since it read it: its note is added, its findings are not."""
    from serving import worklist

    with pg_engine.connect() as connection:
        case_id, school = connection.execute(
            sa.select(missing_cases.c.case_id, missing_cases.c.school_id)
            .where(missing_cases.c.status == "not_followed")
            .order_by(missing_cases.c.case_id)
            .limit(1)
        ).one()
    members = [
        create_user(pg_engine, "committee", f"กรรมการ {n}", school_id=school)[0] for n in (1, 2)
    ]
    both_read = threading.Barrier(2, timeout=60)
    check_change = worklist.check_change

    def after_both_read(*args: object) -> worklist.CaseChange:
        both_read.wait()  # each has read the case before either writes
        return check_change(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(worklist, "check_change", after_both_read)
    changes = [
        worklist.CaseChange(status="following", note="โทรหาแม่แล้ว"),
        worklist.CaseChange(status="found_referred", agency="พมจ.", note="ส่งต่อ พมจ."),
    ]

    def send(n: int) -> str:
        try:
            worklist.update_case(pg_engine, Caller(members[n], "test"), case_id, changes[n])
        except records.ChangedSince:
            return "refused"
        return changes[n].status

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(send, (0, 1)))

    assert outcomes.count("refused") == 1, outcomes
    with pg_engine.connect() as connection:
        status = connection.execute(
            sa.select(missing_cases.c.status).where(missing_cases.c.case_id == case_id)
        ).scalar_one()
        notes = connection.execute(
            sa.select(sa.func.count()).where(missing_case_notes.c.case_id == case_id)
        ).scalar_one()
    assert status == next(o for o in outcomes if o != "refused")
    assert notes == 2


def test_two_requests_for_a_moved_childs_history_at_once_make_one_on_postgresql(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Two colleagues (or a double click) ask the area office at the same moment: one
    request, audited once. Before, the second insert broke the table's key (a 500)."""
    engine = make_engine(postgres.new_database())
    ingest_directory(school_files(tmp_path), engine, ID_KEY, None)
    moved = StudentKey("B", "70")
    members = [create_user(engine, "committee", f"กรรมการ {n}", school_id="B")[0] for n in (1, 2)]
    both = threading.Barrier(2)

    def ask(member: User) -> None:
        both.wait()
        followups.request_history(engine, Caller(member, "test"), moved)

    for tries in range(1, 4):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ask, members))
        assert followups.earlier_records(engine, moved) == {"status": "requested"}
        assert history_actions(engine) == ["history_requested"] * tries
        with engine.begin() as connection:  # asked anew in the next try
            connection.execute(sa.delete(history_grants))


def test_an_upload_undone_twice_at_once_is_undone_once_on_postgresql(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """A data officer's double click on "undo" (two tabs, or scripts off): the upload is
    undone once and the other sending is told it was. Before, both read the upload as not
    undone and the second put the school's rows back beside the first's: a broken key
    (a 500)."""
    engine = make_engine(postgres.new_database())
    files = school_files(tmp_path)
    ingest_directory(files, engine, ID_KEY, None)
    before = read_table(engine, "enrollments")
    (files / "enrollments.csv").write_text(
        "student_id,academic_year,term,school_id,grade_level,classroom,advisor_id\n"
        "6,2568,2,A,M3,M3/2,T2\n"
    )
    loaded = ingest_directory(files, engine, ID_KEY, None, schools=frozenset({"A"}), by=1)
    assert loaded.load_id is not None
    both = threading.Barrier(2)

    def undo_it(_: int) -> str:
        both.wait()
        try:
            undo_load(engine, "A", loaded.load_id or 0, 1)
        except CannotUndo as refusal:
            return str(refusal)
        return "undone"

    with ThreadPoolExecutor(2) as pool:
        said = sorted(pool.map(undo_it, (1, 2)))
    assert said == ["this upload was undone already", "undone"]
    after = read_table(engine, "enrollments")
    assert _sorted(after).equals(_sorted(before))


def test_a_benefit_order_set_twice_at_once_is_set_on_postgresql(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """An analyst's double click on a school's benefit order, the school's first: both
    sendings answer and the order is as sent. Before, the second insert broke the
    table's key (a 500)."""
    engine = make_engine(postgres.new_database())
    ingest_directory(school_files(tmp_path), engine, ID_KEY, None)
    analyst, _ = create_user(engine, "analyst", "นักวิเคราะห์")

    def twice_at_once(school: str, on: bool) -> None:
        both = threading.Barrier(2)

        def turn(_: int) -> None:
            both.wait()
            records.set_benefit_order(engine, Caller(analyst, "test"), school, on, available=True)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(turn, (1, 2)))

    for school, on in (("A", True), ("B", True), ("A", False)):
        twice_at_once(school, on)
    with engine.connect() as connection:
        orders = connection.execute(
            sa.select(plan_orders.c.school_id, plan_orders.c.benefit_order).order_by("school_id")
        ).all()
    assert [tuple(order) for order in orders] == [("A", False), ("B", True)]


def test_the_area_figures_on_postgresql_are_what_the_run_and_the_records_hold(
    api: Api, pg_engine: sa.Engine
) -> None:
    """The area page's statements (built once for each dialect; every other area test
    runs on SQLite) on PostgreSQL: each school's figures are its stored run's and its
    records', an area office's equal an analyst's, a child referred twice is one child to
    follow, a refused referral is closed, and a referred child who has left school is
    still followed, with how they left."""
    for week in WEEKS:
        latest = weekly_run(pg_engine, api.scorer, pd.Timestamp(week))
    scores = stored_run(pg_engine).reset_index()
    scores = scores[scores["run_id"] == latest.run_id]
    schools = sorted(scores["school_id"].unique())
    assert len(schools) >= 3
    followed, elsewhere = schools[:2], schools[2]
    day = date.fromisoformat(WEEKS[-1])

    def student(school: str, tier: str | None = None, skip: int = 0) -> StudentKey:
        rows = scores[scores["school_id"] == school]
        rows = rows[rows["tier"] == tier] if tier else rows.sort_values("rank_in_school")
        return StudentKey(school, str(rows["student_id"].iloc[-1 - skip]))

    def record(key: StudentKey, kind: str, outcome: str | None = "done") -> None:
        committee, _ = create_user(pg_engine, "committee", "กรรมการ", school_id=key.school_id)
        records.record_intervention(
            pg_engine, Caller(committee, "test"), key, day, kind=kind, outcome=outcome
        )

    helped = student(followed[0], "high")
    referred, refused = student(followed[0], skip=0), student(followed[0], skip=1)
    # A child of the school who left before the week (not on its list): still followed.
    on_roll = set(zip(scores["school_id"], scores["student_id"], strict=True))
    with pg_engine.connect() as connection:
        exits = pd.read_sql(sa.select(TABLES["exits"]), connection)
    exits["exit_date"] = pd.to_datetime(exits["exit_date"]).dt.date
    exits = exits[(exits["school_id"] == followed[0]) & (exits["exit_date"] <= day)]
    exits = exits.sort_values("exit_date")
    gone_from_roll = [
        key not in on_roll for key in zip(exits["school_id"], exits["student_id"], strict=True)
    ]
    leavers = exits[(exits["exit_type"] == "dropout") & pd.Series(gone_from_roll, exits.index)]
    assert len(leavers) > 0
    left = StudentKey(followed[0], str(leavers["student_id"].iloc[-1]))
    newest_exit = exits[exits["student_id"] == left.student_id].iloc[-1]
    record(helped, "home_visit")
    record(left, "external_referral", None)
    record(referred, "external_referral")
    record(referred, "health_referral", None)
    record(refused, "external_referral", "refused")
    record(student(elsewhere), "health_referral")

    office, _ = create_user(pg_engine, "area", "เขตพื้นที่", schools=followed)
    analyst, _ = create_user(pg_engine, "analyst", "นักวิเคราะห์")
    seen = area.area_summary(pg_engine, Caller(office, "test"))
    country = area.area_summary(pg_engine, Caller(analyst, "test"))
    assert seen is not None
    assert country is not None
    assert str(seen.as_of) == WEEKS[-1]

    # What the figures must be, read from the tables here (imported help may fall in the
    # windows too): in force, in the windows; referrals whether on the list or not.
    high_rows = scores[scores["tier"] == "high"]
    high = set(zip(high_rows["school_id"], high_rows["student_id"], strict=True))
    actions = records_in_force(pg_engine)
    recent = actions[(actions["date"] > day - timedelta(days=30)) & (actions["date"] <= day)]
    acted = set(zip(recent["school_id"], recent["student_id"], strict=True)) & high
    to_follow = open_referrals(pg_engine, schools, day)
    assert tuple(referred) in to_follow
    assert tuple(left) in to_follow
    assert tuple(refused) not in to_follow
    assert tuple(helped) in acted

    assert [s.school_id for s in seen.schools] == followed
    by_school = {s.school_id: s for s in country.schools}
    assert set(by_school) == set(schools)
    for figures in seen.schools:
        mine = scores[scores["school_id"] == figures.school_id]
        assert figures.high == int((mine["tier"] == "high").sum())
        assert figures.watch == int((mine["tier"] == "watch").sum())
        assert figures.high_with_action_30d == sum(1 for s, _ in acted if s == figures.school_id)
        assert figures.open_referrals == sum(1 for s, _ in to_follow if s == figures.school_id)
        assert figures == by_school[figures.school_id]
    for school, figures in by_school.items():  # the analyst's, of every school
        assert figures.open_referrals == sum(1 for s, _ in to_follow if s == school)
        assert figures.high_with_action_30d == sum(1 for s, _ in acted if s == school)
    assert by_school[elsewhere].open_referrals >= 1
    listed = [(c.school_id, c.student_id) for c in seen.referred]
    assert sorted(listed) == sorted(k for k in to_follow if k[0] in followed)
    assert len(listed) == len(set(listed))  # the child referred twice, once
    cases = {(c.school_id, c.student_id): c for c in seen.referred}
    assert cases[tuple(referred)].on_list
    assert cases[tuple(referred)].exit_date is None
    gone = cases[tuple(left)]  # on no list this week, and how they left
    assert (gone.on_list, gone.tier) == (False, None)
    assert (gone.exit_date, gone.exit_type) == (newest_exit.exit_date, newest_exit.exit_type)
    # A page at a time, in the same order; never another area's school, asked by name.
    pages = [
        area.referred_cases(pg_engine, Caller(office, "test"), offset=n, limit=1)
        for n in range(len(listed))
    ]
    assert [(p.cases[0].school_id, p.cases[0].student_id) for p in pages] == listed
    assert {p.total for p in pages} == {len(listed)}
    other = area.referred_cases(pg_engine, Caller(office, "test"), school=elsewhere)
    assert (other.total, other.cases) == (0, [])


def test_the_audit_log_cannot_be_wiped_on_postgresql(pg_engine: sa.Engine) -> None:
    from schooldata import audit

    audit.record(pg_engine, [audit.Entry("read", "test", None, "ST000001")])
    url = pg_engine.url
    with pg_engine.begin() as connection:
        connection.exec_driver_sql("DROP ROLE IF EXISTS ews_app")
        connection.exec_driver_sql("CREATE ROLE ews_app LOGIN")
        connection.exec_driver_sql("GRANT USAGE ON SCHEMA public TO ews_app")
        connection.exec_driver_sql("GRANT SELECT, INSERT ON audit_log TO ews_app")
        connection.exec_driver_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ews_app")
    # The owner itself: the triggers refuse truncation, updates and deletes.
    for statement in (
        "TRUNCATE audit_log",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET student_id = 'x'",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), pg_engine.begin() as c:
            c.exec_driver_sql(statement)
    # The application's role may append and read, and nothing else (docs/postgres-roles.md).
    app = make_engine(url.set(username="ews_app").render_as_string(hide_password=False))
    audit.record(app, [audit.Entry("read", "test", None, "ST000002")])
    for statement in ("TRUNCATE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL"):
        with pytest.raises(sa.exc.DBAPIError, match="must be owner|permission denied"):
            with app.begin() as c:
                c.exec_driver_sql(statement)
    assert audit.verify(pg_engine).broken_at is None


def test_a_write_that_appends_twice_while_others_record_keeps_the_chain_on_postgresql(
    postgres: PostgresServer,
) -> None:
    """A request's transaction appends, waits, appends again and commits, while reads are
    recorded from another thread: each append waits for the transaction before it, and
    none waits for one that waits for it."""
    engine = make_engine(postgres.new_database())
    upgrade(engine)
    appended = threading.Event()

    def write_twice() -> None:
        with engine.begin() as connection:
            audit.append(connection, [audit.Entry("write", "POST /cases", 1, "S1")])
            appended.set()
            threading.Event().wait(0.5)
            audit.append(connection, [audit.Entry("write", "POST /cases", 1, "S1")])

    writer = threading.Thread(target=write_twice, daemon=True)
    writer.start()
    appended.wait(10)
    reader = threading.Thread(
        target=audit.record, args=(engine, [audit.Entry("read", "GET /list", 2, "S2")]), daemon=True
    )
    reader.start()
    writer.join(timeout=30)
    reader.join(timeout=30)

    assert not writer.is_alive(), "the write waits for the read's record, which waits for it"
    assert not reader.is_alive()
    checked = audit.verify(engine)
    assert (checked.rows, checked.broken_at) == (3, None), checked.reason


def test_the_schedulers_retry_check_on_postgresql(postgres: PostgresServer, tmp_path: Path) -> None:
    engine = make_engine(postgres.new_database())
    upgrade(engine)
    check_retries(engine, tmp_path)


def test_the_service_answers_after_postgresql_drops_its_connections(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """A restart, a failover or an idle timeout ends every connection a server worker keeps
    in its pool; the next request (a teacher signing in) is still answered."""
    engine = make_engine(postgres.new_database())
    upgrade(engine)
    token = create_user(engine, "analyst", "นักวิเคราะห์")[1]
    settings = scratch_settings(engine.url.render_as_string(hide_password=False), tmp_path)
    headers = {"Authorization": f"Bearer {token}"}

    with running_server(settings) as url:
        before = httpx.get(f"{url}/api/v1/model", headers=headers, timeout=60)
        with engine.connect() as connection:
            ended = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
        after = httpx.get(f"{url}/api/v1/model", headers=headers, timeout=60)

    assert before.status_code == 200, before.text
    assert ended  # the server's pooled connections
    assert after.status_code == 200, after.text


def test_among_selects_what_in_selects_on_postgresql_and_sqlite(
    pg_engine: sa.Engine, synthetic_engine: sa.Engine
) -> None:
    students = TABLES["students"]
    for engine in (pg_engine, synthetic_engine):
        with engine.connect() as connection:
            # Schools share codes: each code once.
            every = sorted(set(connection.execute(sa.select(students.c.student_id)).scalars()))
            for asked in ([], every[:1], every[3:40], [*every[:5], "no-such-student"], every):
                found = connection.execute(
                    sa.select(students.c.student_id).where(
                        among(connection, students.c.student_id, asked)
                    )
                ).scalars()
                assert sorted(set(found)) == sorted(set(asked) & set(every)), engine.dialect.name


def test_among_students_selects_the_pairs_and_never_their_crossings(
    pg_engine: sa.Engine, synthetic_engine: sa.Engine
) -> None:
    """Schools number their students alike: asked for school A's code x and school B's
    code y, the rows of A's y and B's x (both real students) are not theirs."""
    students = TABLES["students"]
    for engine in (pg_engine, synthetic_engine):
        dialect = engine.dialect.name
        with engine.connect() as connection:
            every = set(
                connection.execute(sa.select(students.c.school_id, students.c.student_id)).all()
            )
            schools = sorted({school for school, _ in every})
            codes = {s: {c for school, c in every if school == s} for s in schools}
            a, b = schools[:2]
            x, y = sorted(codes[a] & codes[b])[:2]  # both schools use both codes
            # More pairs than SQLite's default limit of variables (32,766), quotes in a code.
            many = [*sorted(every), *((f"S{i}", f'"{i}\\') for i in range(20_000))]
            for asked in ([], [(a, x), (b, y)], [(a, x), (b, "no-such-student")], many):
                built_now = sa.select(students.c.school_id, students.c.student_id).where(
                    among_students(connection, students.c.school_id, students.c.student_id, asked)
                )
                built_once = sa.select(students.c.school_id, students.c.student_id).where(
                    among_students_parameter(dialect, students.c.school_id, students.c.student_id)
                )
                found = [
                    set(map(tuple, connection.execute(built_now).all())),
                    set(
                        map(
                            tuple,
                            connection.execute(built_once, students_parameters(dialect, asked)),
                        )
                    ),
                ]
                assert found == [set(asked) & every] * 2, (dialect, asked[:3])


def test_reads_keep_their_prepared_statements_between_requests_on_postgresql(
    pg_engine: sa.Engine,
) -> None:
    """A read connection (``reading``) is returned without a ROLLBACK, on which psycopg
    discards every prepared statement: asked on many requests, a page's statement stays
    prepared instead of being planned again each time."""
    students = TABLES["students"]
    query = sa.select(students.c.student_id).where(students.c.student_id == sa.bindparam("s"))
    for _ in range(12):  # one request after another, each with a connection of the pool
        with reading(pg_engine) as connection:
            connection.execute(query, {"s": "nobody"}).all()
    with reading(pg_engine) as connection:
        prepared = connection.exec_driver_sql(
            "SELECT statement FROM pg_prepared_statements"
        ).scalars()
        assert any("students.student_id = $1" in text for text in prepared)
        status = connection.connection.driver_connection.info.transaction_status
        assert status == psycopg.pq.TransactionStatus.IDLE


def test_the_audit_chain_written_by_copy_verifies_on_postgresql(pg_engine: sa.Engine) -> None:
    entries = [
        audit.Entry("read", "GET /list", 7, f"ST{i:05d}", detail="ครู" if i % 2 else None)
        for i in range(250)
    ]
    audit.record(pg_engine, entries)
    with pg_engine.connect() as connection:
        written = connection.execute(
            sa.select(audit_log.c.student_id, audit_log.c.detail)
            .where(audit_log.c.endpoint == "GET /list")
            .order_by(audit_log.c.audit_id)
        ).all()
    assert [(e.student_id, e.detail) for e in entries] == [tuple(r) for r in written[-250:]]
    assert audit.verify(pg_engine).broken_at is None


_COPY_TABLE = sa.Table(
    "copy_check",
    sa.MetaData(),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("whole", sa.BigInteger, nullable=True),
    sa.Column("number", sa.Float, nullable=True),
    sa.Column("day", sa.Date, nullable=True),
    sa.Column("at", sa.DateTime, nullable=True),
)
_TEXT = st.text(  # PostgreSQL text holds no NUL, UTF-8 no lone surrogate
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | _TEXT,
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(width=64),
            st.none() | st.dates(),
            st.none() | st.datetimes(),
        ),
        max_size=20,
    )
)
def test_copy_in_one_piece_stores_what_psycopg_stores_row_by_row(
    postgres: PostgresServer, rows: list[tuple[object, ...]]
) -> None:
    """``insert_columns`` writes plain values to COPY as one text (``copy_text``); the
    table must read back exactly as when psycopg formats each row: backslashes, tabs,
    newlines, Thai, NaN and infinities, dates and microseconds included."""
    engine = _copy_engine(postgres)
    names = ["n", "text", "whole", "number", "day", "at"]
    numbered = [(i, *row) for i, row in enumerate(rows)]
    assert copy_text(numbered) is not None or not rows
    read = []
    for fast in (True, False):
        with engine.begin() as connection:
            connection.execute(_COPY_TABLE.delete())
            if fast:
                insert_columns(connection, _COPY_TABLE, names, numbered)
            else:
                driver = connection.connection.driver_connection
                with (
                    driver.cursor() as cursor,
                    cursor.copy(  # type: ignore[union-attr]
                        "COPY copy_check (n, text, whole, number, day, at) FROM STDIN"
                    ) as copy,
                ):
                    for row in numbered:
                        copy.write_row(row)
            read.append(connection.execute(sa.select(_COPY_TABLE).order_by("n")).all())
    assert [_comparable(r) for r in read[0]] == [_comparable(r) for r in read[1]]
    assert [_comparable(r) for r in read[0]] == [_comparable(r) for r in numbered]


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, max_size=12), st.lists(_TEXT, max_size=12))
def test_among_sends_any_strings_as_one_array_text(
    postgres: PostgresServer, stored: list[str], asked: list[str]
) -> None:
    """``among`` on a string column sends the values as one array literal
    (``array_literal``): quotes, backslashes, commas, braces, spaces, "NULL" and Thai must
    each match themselves only."""
    engine = _copy_engine(postgres)
    table = sa.Table("among_check", sa.MetaData(), sa.Column("value", sa.Text))
    with engine.begin() as connection:
        table.create(connection, checkfirst=True)
        connection.execute(table.delete())
        if stored:
            connection.execute(table.insert(), [{"value": v} for v in stored])
        found = connection.execute(
            sa.select(table.c.value).where(among(connection, table.c.value, asked))
        ).scalars()
        assert sorted(found) == sorted(v for v in stored if v in set(asked))


def test_array_literal_quotes_every_element() -> None:
    assert array_literal(['a"b', "c\\d", "NULL", ""]) == '{"a\\"b","c\\\\d","NULL",""}'


def _comparable(row: Sequence[object]) -> tuple[object, ...]:
    return tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)


_copy_engines: dict[str, sa.Engine] = {}


def _copy_engine(postgres: PostgresServer) -> sa.Engine:
    """One database for every example (Hypothesis calls the test many times)."""
    if postgres.directory.name not in _copy_engines:
        engine = make_engine(postgres.new_database())
        _COPY_TABLE.create(engine)
        _copy_engines[postgres.directory.name] = engine
    return _copy_engines[postgres.directory.name]


def test_a_school_left_out_reads_the_same_on_postgresql(
    api: Api,
    postgres: PostgresServer,
    synthetic_directory: Path,
    synthetic_engine: sa.Engine,
    tmp_path: Path,
) -> None:
    """A week with a school left out, stored on PostgreSQL (it was refused: its tier
    counts, missing for that school, came as "5.0" for an integer column), what the
    upload page and the messages read of it, and the school's list made again: still
    left out (that crashed everywhere), then back once its registers come."""
    engine = make_engine(postgres.new_database())
    ingest_directory(synthetic_directory, engine, ID_KEY, tmp_path / "rejects")
    as_of = pd.Timestamp(WEEKS[-1])
    make_late(engine, api.school, as_of)
    weekly_run(engine, api.scorer, as_of)

    assert schools_left_out(engine, as_of.date()) == {api.school}
    late = school_in_list(engine, api.school)
    assert late is not None
    assert late.as_of == as_of.date()
    assert late.school is not None
    assert late.school["stale"]
    assert late.school["scored"] == 0
    assert late.school["newest_attendance"] < (as_of - pd.Timedelta(days=21)).date()
    assert not late.remaking
    assert late.failed_error is None
    listed = school_in_list(engine, api.other_school)
    assert listed is not None
    assert listed.school is not None
    assert not listed.school["stale"]
    assert listed.school["scored"] == listed.school["enrolled"] > 0

    still = weekly_run(engine, api.scorer, as_of, school=api.school)
    assert still.students == 0
    assert schools_left_out(engine, as_of.date()) == {api.school}
    attendance = TABLES["attendance"]
    newest = late.school["newest_attendance"]
    with synthetic_engine.connect() as source:
        rows = [
            dict(r)
            for r in source.execute(
                sa.select(attendance).where(
                    (attendance.c.school_id == api.school) & (attendance.c.date > newest)
                )
            ).mappings()
        ]
    with engine.begin() as connection:
        connection.execute(sa.insert(attendance), rows)
    back = weekly_run(engine, api.scorer, as_of, school=api.school)
    assert back.students > 0
    assert schools_left_out(engine, as_of.date()) == set()
    scored = school_in_list(engine, api.school)
    assert scored is not None
    assert scored.school is not None
    assert scored.school["scored"] == scored.school["enrolled"] == back.students


def test_a_nul_character_is_refused_at_the_door_and_dropped_from_a_schools_file(
    api: Api, pg_engine: sa.Engine, postgres: PostgresServer, tmp_path: Path
) -> None:
    """PostgreSQL refuses a NUL character in text, where SQLite takes it: a code or a
    filter holding one (%00) was an internal error (500), and one NUL in a school's file
    failed its whole load. A request holding one is refused with what is wrong (400), on
    either database; a file's NUL is dropped and its rows load."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "schools.csv").write_text("school_id,name\nS9,โรงเรียนทดลอง\n", encoding="utf-8")
    (folder / "students.csv").write_bytes(
        "student_id,school_id,given_name,family_name,sex,birth_date\n"
        "1,S9,ก\x00ข,ใจดี,F,2015-01-01\n2,S9,ค,ง,M,2015-02-02\n".encode()
    )
    engine = make_engine(postgres.new_database())
    ingest_directory(folder, engine, ID_KEY, tmp_path / "rejects")
    names = read_table(engine, "students").sort_values("student_id")["given_name"]
    assert list(names) == ["กข", "ค"]

    school = api.school
    token = create_user(pg_engine, "committee", "กรรมการ", school_id=school)[1]
    settings = api.settings.model_copy(
        update={"database_url": pg_engine.url.render_as_string(hide_password=False)}
    )
    headers = {"Authorization": f"Bearer {token}"}
    code = read_table(pg_engine, "enrollments").query("school_id == @school")["student_id"].iloc[0]
    visit = {"student_id": code + "\x00", "date": WEEKS[1], "type": "home_visit"}
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        refused = [
            client.get(f"/api/v1/students/{code}%00/interventions", headers=headers),
            client.get("/api/v1/risk-list?advisor_id=T%00", headers=headers),
            client.post("/api/v1/interventions", headers=headers, json=visit),
            client.post("/login", data={"username": "a\x00", "password": "x"}),
        ]
        fine = client.get(f"/api/v1/students/{code}/interventions", headers=headers)

    for answer in refused:
        assert answer.status_code == 400, answer.text
        assert "NUL character" in answer.json()["detail"]
    assert fine.status_code == 200


def test_a_record_number_past_postgresqls_integer_answers_422(
    api: Api, pg_engine: sa.Engine
) -> None:
    """Record numbers are 32-bit integers on PostgreSQL: 3,000,000,000 as a case's number
    or the record an action corrects was refused there as out of range (500)."""
    token = create_user(pg_engine, "committee", "กรรมการ", school_id=api.school)[1]
    settings = api.settings.model_copy(
        update={"database_url": pg_engine.url.render_as_string(hide_password=False)}
    )
    headers = {"Authorization": f"Bearer {token}"}
    past = 3_000_000_000
    action = {"student_id": api.own_student, "date": WEEKS[1], "type": "letter", "corrects": past}
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        answers = [
            client.post(
                f"/api/v1/missing-cases/{past}", headers=headers, json={"status": "following"}
            ),
            client.post("/api/v1/interventions", headers=headers, json=action),
            client.post(
                f"/api/v1/missing-cases/{2**31 - 1}", headers=headers, json={"status": "following"}
            ),
        ]

    assert [a.status_code for a in answers] == [422, 422, 404], [a.text for a in answers]


def test_no_request_causes_a_server_error_on_postgresql(api: Api, pg_engine: sa.Engine) -> None:
    """The API's fuzzing on PostgreSQL, which refuses what SQLite takes (a NUL in text, a
    number past a 32-bit integer): both were server errors there, and only there."""
    for week in WEEKS:
        weekly_run(pg_engine, api.scorer, pd.Timestamp(week))
    school = api.school
    advisor = read_table(pg_engine, "enrollments").query("school_id == @school")["advisor_id"]
    tokens = {
        "committee": create_user(pg_engine, "committee", "กรรมการ", school_id=school)[1],
        "analyst": create_user(pg_engine, "analyst", "นักวิเคราะห์")[1],
        "advisor": create_user(
            pg_engine, "advisor", "ครู", school_id=school, staff_id=advisor.dropna().iloc[0]
        )[1],
    }
    settings = api.settings.model_copy(
        update={"database_url": pg_engine.url.render_as_string(hide_password=False)}
    )
    with running_server(settings) as url:
        operations, fuzzed_negative = fuzz(url, tokens, EXAMPLES)

    assert operations >= 9
    assert fuzzed_negative >= operations - 2


def test_a_reload_on_postgresql_updates_what_a_school_corrected_as_on_sqlite(
    postgres: PostgresServer, base_directory: Path, tmp_path: Path
) -> None:
    """PostgreSQL upserts a load from a temporary table in one statement a chunk: a
    corrected row is updated, a day in two registers keeps the later register's, and a
    visit the service recorded is not touched by an imported one of the same key, as
    row by row on SQLite."""
    sqlite_engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    engines = (make_engine(postgres.new_database()), sqlite_engine)
    registers = base_directory / "attendance"
    registers.mkdir()
    (registers / "p6-1.csv").write_text(
        "student_id,date,status\nA1,2025-06-02,absent\nA1,2025-06-03,present\n"
    )
    (base_directory / "interventions.csv").write_text(
        "student_id,date,type,outcome\nA1,2025-06-05,home_visit,not_home\n"
    )
    for engine in engines:
        ingest_directory(base_directory, engine, ID_KEY, None)
        record_staff_visit(engine, "A1", date(2025, 6, 5), "done")
    # The school corrects a day, and sends the same day again in a second register.
    (registers / "p6-1.csv").write_text(
        "student_id,date,status\nA1,2025-06-02,sick_leave\nA1,2025-06-03,present\n"
    )
    (registers / "p6-2.csv").write_text("student_id,date,status\nA1,2025-06-03,late\n")
    (base_directory / "interventions.csv").write_text(
        "student_id,date,type,outcome\nA1,2025-06-05,home_visit,refused\n"
    )
    for engine in engines:
        ingest_directory(base_directory, engine, ID_KEY, None)

    pg, lite = ({name: read_table(e, name) for name in TABLES} for e in engines)
    for name in TABLES:
        pd.testing.assert_frame_equal(_sorted(pg[name]), _sorted(lite[name]), obj=name)
    days = pg["attendance"].sort_values("date")
    assert days["status"].tolist() == ["sick_leave", "late"]
    visits = pg["interventions"].sort_values("origin")
    assert visits[["origin", "outcome"]].values.tolist() == [
        ["import", "refused"],
        [ORIGIN_SERVICE, "done"],
    ]


def _documented_grants(database: str, role: str) -> list[str]:
    """The statements docs/postgres-roles.md has the owner run, for ``database`` and
    ``role`` in place of its names."""
    text = (Path(__file__).parents[2] / "docs" / "postgres-roles.md").read_text()
    block = text.split("```sql", 1)[1].split("```", 1)[0]
    owners = block.split("-- As ews_owner", 1)[1].splitlines()[1:]
    return [
        line.split("--")[0]
        .strip()
        .rstrip(";")
        .replace("DATABASE ews ", f'DATABASE "{database}" ')
        .replace("ews_app", role)
        for line in owners
        if line.strip() and not line.startswith("--")
    ]


def _documented_role(owner: sa.Engine, role: str) -> sa.Engine:
    """A login role granted on the owner's database as the doc says, and an engine of it."""
    with owner.begin() as connection:
        connection.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        for statement in _documented_grants(str(owner.url.database), role):
            connection.exec_driver_sql(statement)
    return make_engine(owner.url.set(username=role).render_as_string(hide_password=False))


def test_the_documented_application_role_runs_the_weekly_run(
    api: Api, pg_engine: sa.Engine
) -> None:
    """The doc has the application's role run ``ews score``: the week's list is stored
    by it, every school's students scored."""
    app = _documented_role(pg_engine, "ews_app_weekly")

    report = weekly_run(app, api.scorer, pd.Timestamp(WEEKS[-1]))

    assert report.students > 0
    with pg_engine.connect() as connection:
        run = connection.execute(
            sa.select(sa.func.max(score_runs.c.run_id)).where(
                score_runs.c.as_of == pd.Timestamp(WEEKS[-1]).date()
            )
        ).scalar_one()
        scored = connection.execute(
            sa.select(sa.func.count()).where(student_scores.c.run_id == run)
        ).scalar_one()
    assert scored == report.students
    # and keeps, for each student the list flags, the first week a list flagged them.
    with pg_engine.connect() as connection:
        flagged = set(
            connection.execute(
                sa.select(student_scores.c.school_id, student_scores.c.student_id).where(
                    (student_scores.c.run_id == run) & student_scores.c.tier.in_(FLAGGED)
                )
            ).all()
        )
        first = {
            (school, code): day
            for school, code, day in connection.execute(sa.select(first_flags)).all()
        }
    assert flagged
    assert all(first[s] <= pd.Timestamp(WEEKS[-1]).date() for s in flagged)


def test_the_documented_application_role_records_a_list_opened(
    api: Api, pg_engine: sa.Engine
) -> None:
    """A list read by the service under the doc's application role is logged, and its
    reader counted as having opened the school's list that day."""
    app = _documented_role(pg_engine, "ews_app_lists")
    reader = 424242

    audit.record(
        app, [audit.Entry("read", "GET /list", reader, api.own_student, school_id=api.school)]
    )

    with pg_engine.connect() as connection:
        opened = connection.execute(
            sa.select(lists_opened.c.school_id).where(lists_opened.c.user_id == reader)
        ).scalars()
        assert list(opened) == [api.school]


def test_the_documented_application_role_uploads_a_schools_visits_and_keeps_the_staffs(
    postgres: PostgresServer, base_directory: Path
) -> None:
    """As docs/postgres-roles.md sets it up: the application's role loads a school's
    interventions file and undoes that upload (it refused both before), and no role may
    rewrite a visit the staff recorded."""
    owner = make_engine(postgres.new_database())
    (base_directory / "interventions.csv").write_text(
        "student_id,date,type,outcome\nA1,2025-06-05,home_visit,not_home\n"
    )
    ingest_directory(base_directory, owner, ID_KEY, None)
    app = _documented_role(owner, "ews_app_as_documented")
    record_staff_visit(app, "A1", date(2025, 6, 6), "done")
    interventions = TABLES["interventions"]
    upload = base_directory / "upload"
    upload.mkdir()
    (upload / "interventions.csv").write_text(
        "student_id,date,type,outcome\nA1,2025-06-05,home_visit,refused\n"
    )

    loaded = ingest_directory(upload, app, ID_KEY, None, schools=frozenset({"S1"}), by=7)

    def outcomes() -> list[list[str]]:
        rows = read_table(owner, "interventions").sort_values("date")
        return rows[["origin", "outcome"]].values.tolist()

    assert outcomes() == [["import", "refused"], [ORIGIN_SERVICE, "done"]]
    undo_load(app, "S1", loaded.load_id or 0, by=7)
    assert outcomes() == [["import", "not_home"], [ORIGIN_SERVICE, "done"]]
    staff = interventions.c.origin == ORIGIN_SERVICE
    for engine in (app, owner):
        for statement in (
            sa.update(interventions).where(staff).values(outcome="not_home"),
            sa.delete(interventions).where(staff),
            sa.update(interventions).values(origin=ORIGIN_SERVICE),
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
                c.execute(statement)
    assert outcomes() == [["import", "not_home"], [ORIGIN_SERVICE, "done"]]
    assert kept_last_actions(owner) == {("S1", "A1"): date(2025, 6, 6)}
    for statement in ("TRUNCATE audit_log", "UPDATE audit_log SET detail = 'x'"):
        with pytest.raises(sa.exc.DBAPIError, match="permission denied|append-only"):
            with app.begin() as c:
                c.exec_driver_sql(statement)


def test_the_documented_application_role_withdraws_a_record_made_by_mistake(
    postgres: PostgresServer, base_directory: Path
) -> None:
    """A record its author withdraws within minutes is removed under the doc's role (the
    database refused it from 0024 to 0027), the student's last action with it; a staff
    record of before those minutes still cannot be removed."""
    owner = make_engine(postgres.new_database())
    ingest_directory(base_directory, owner, ID_KEY, None)
    app = _documented_role(owner, "ews_app_withdraws")
    record_staff_visit(app, "A2", date(2025, 6, 3), "done")  # no moment: long ago
    advisor, _ = create_user(owner, "committee", "กรรมการ", school_id="S1")
    caller, child = Caller(advisor, "test"), StudentKey("S1", "A1")
    made, _ = records.record_intervention(
        app, caller, child, date(2025, 6, 9), kind="home_visit", outcome=None
    )
    assert kept_last_actions(owner)[child] == date(2025, 6, 9)

    records.withdraw_intervention(app, caller, made.intervention_id)

    assert child not in kept_last_actions(owner)
    interventions = TABLES["interventions"]
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), app.begin() as connection:
        connection.execute(sa.delete(interventions))
    assert read_table(owner, "interventions")["student_id"].tolist() == ["A2"]


def test_records_of_one_child_made_at_once_keep_the_latest_as_last_action_on_postgresql(
    postgres: PostgresServer, base_directory: Path
) -> None:
    """Six staff record help for one child at the same moment, each for another day: all
    six are kept, and the child's last action is the latest day, whichever committed
    last (each works it out under a lock, after the others' commits)."""
    engine = make_engine(postgres.new_database())
    ingest_directory(base_directory, engine, ID_KEY, None)
    staff = [create_user(engine, "committee", f"กรรมการ {n}", school_id="S1")[0] for n in range(6)]
    for child in (StudentKey("S1", "A1"), StudentKey("S1", "A2")):
        start = threading.Barrier(len(staff))

        def record(n: int, child: StudentKey = child, start: threading.Barrier = start) -> int:
            start.wait()
            made, _ = records.record_intervention(
                engine,
                Caller(staff[n], "test"),
                child,
                date(2025, 6, 2 + n),
                kind="letter",
                outcome=None,
            )
            return made.intervention_id

        with ThreadPoolExecutor(len(staff)) as pool:
            made = list(pool.map(record, range(len(staff))))

        assert len(set(made)) == len(staff)
        assert kept_last_actions(engine)[child] == date(2025, 6, 2 + len(staff) - 1)
