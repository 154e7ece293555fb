"""``ews demo``: the whole job on synthetic data, then serving."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from core.settings import Settings
from ews.common import (
    actor,
    console,
    database,
    fail,
    load_settings,
)
from ews.data import ingest, missing, synth
from ews.model import effects, outcomes, promote, train
from ews.service import score, serve


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the synthetic data directory goes.")] = Path(
        "data/synth"
    ),
    students: Annotated[int, typer.Option(min=50)] = 12_000,
    schools: Annotated[int, typer.Option(min=3)] = 20,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop before serving.")] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8000,
) -> None:
    """Run the whole job on synthetic data, from synth to serve.

    Synth → ingest → train → promote → score → check past lists →
    estimate effects → serve."""
    if not no_serve and not _free(DEMO_HOST, port):
        # Said now, not after the minutes of the job before serving.
        fail(
            f"Port {port} on {DEMO_HOST} is in use (an earlier ews demo or ews serve still "
            f"running, or another program): stop it, or run .venv/bin/ews demo --port "
            f"{port + 1}."
        )
    console.rule("1. Synthetic data")
    synth(
        out=data_dir,
        schools=schools,
        students=students,
        years=3,
        first_year=2566,
        seed=0,
        defect_rate=0.002,
        school_files=2,
    )
    console.rule("2. Ingest")
    try:
        ingest(directory=data_dir, rejects_dir=None)
    except typer.Exit as exit_:
        if exit_.exit_code:
            raise
    console.rule("3. Train")
    train(config=None, horizon_days=None, train_until=None, test_from=None)
    console.rule("4. Promote")
    try:
        promote(force=False, reason=None)
    except typer.Exit as exit_:
        if exit_.exit_code:
            console.print("The champion stays; the demo goes on with it.")
    settings = load_settings()
    past, recent = _demo_weeks(settings)
    console.rule(f"5. Weekly scoring: {len(past)} past weeks, then the last {len(recent)}")
    console.print(
        "Past weeks are backfilled, so that their lists can be checked against who left; "
        "the last weeks show a season of lists (new and moved students, risk over time)."
    )
    for day in [*past, *recent]:
        score(as_of=day, school=None, messages=day in recent[-1:])
    console.rule("6. Each past list against what happened")
    outcomes(horizon_days=None)
    console.rule("7. Which help worked (against the simulator's truth)")
    effects(horizon_days=180, truth=data_dir / "truth" / "effects.csv")
    console.rule("8. Children to look for (not enrolled anywhere this term)")
    missing(school=None, out=Path("data/missing-children.xlsx"))
    console.rule("9. Accounts (one per role)")
    tokens = _demo_accounts(settings)
    if no_serve:
        console.print(
            "Done. Start the service with [bold].venv/bin/ews serve[/bold], then sign in at "
            f"http://{DEMO_HOST}:8000/login with an account above (also in {DEMO_ACCOUNTS})."
        )
        return
    address = f"http://{DEMO_HOST}:{port}"
    console.rule(f"10. Serving on {address} (Ctrl-C stops)")
    advisor = tokens["advisor"]
    console.print("Try:")
    console.print(f"  curl {address}/health")
    console.print(f'  curl -H "Authorization: Bearer {advisor}" {address}/api/v1/risk-list')
    console.print(
        f'  curl -H "Authorization: Bearer {tokens["committee"]}" '
        f"{address}/api/v1/schools/{tokens['school']}/home-visit-plan"
    )
    console.print(f"  API documentation: {address}/docs")
    if "EWS_SCHEDULER" not in os.environ:
        # The synthetic years are past: this week's scheduled run would find nobody
        # enrolled, and fail (and be retried) while the demo is looked at.
        os.environ["EWS_SCHEDULER"] = "false"
        console.print(
            "The service's own weekly run is off in the demo: its synthetic school years "
            f"are past (the last week scored is {recent[-1]}); ews score --as-of makes a list."
        )
    serve(host=DEMO_HOST, port=port)


def _free(host: str, port: int) -> bool:
    """Whether a server could listen on the port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server will (a port a closed server left in TIME_WAIT is free to it).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


DEMO_HOST = "127.0.0.1"
DEMO_RECENT_WEEKS = 5
DEMO_ACCOUNTS = Path("data/demo-accounts.txt")
DEMO_PAST_WEEKS = 6


def _demo_weeks(settings: Settings) -> tuple[list[str], list[str]]:
    """Mondays to score in the demo: every other week of the latest term whose horizon
    has passed in the data (its lists can be judged), then the last weeks of the data."""
    import pandas as pd

    from schooldata.calendar import Calendar, newest_attendance_day
    from training.config import TrainConfig

    engine = database(settings)
    newest = newest_attendance_day(engine)
    if newest is None:
        raise ValueError("no attendance in the database: nothing to score")
    calendar = Calendar.stored(engine)
    end = pd.Timestamp(newest)
    mondays = calendar.mondays(end=newest)
    recent = list(mondays[-DEMO_RECENT_WEEKS:])
    horizon = pd.Timedelta(days=TrainConfig.load().labels.horizon_days)
    terms = calendar.table[calendar.table["school_id"] == ""]
    terms = terms.sort_values("start_date", ascending=False)
    past: list[pd.Timestamp] = []
    for first, last in zip(terms["start_date"], terms["end_date"], strict=True):
        weeks = [d for d in mondays if first <= d <= last and d + horizon <= end]
        if len(weeks) >= 4:
            past = weeks[::2][-DEMO_PAST_WEEKS:]
            break
    return [str(d.date()) for d in past], [str(d.date()) for d in recent]


def _demo_accounts(settings: Settings) -> dict[str, str]:
    """One account per role, tied to a school and advisor of the latest list who follow
    returned children (else those at its top; the area office follows that school's
    province): a username with a temporary password for the pages, and a token for the
    API."""
    import secrets as random

    from schooldata.db import read_table, reading
    from serving import store
    from serving.accounts import (
        create_user,
        schools_of_province,
        set_password,
        temporary_password,
    )
    from serving.followups import advisors_following_returned

    engine = database(settings)
    with reading(engine) as connection:
        run = store.latest_run(connection)
        if run is None:
            raise ValueError("no weekly run yet: nothing to show the demo accounts")
        # An advisor following children who came back to school, so the demo shows them;
        # else the advisor of the school's riskiest student.
        following = advisors_following_returned(
            connection, run, follow_terms=settings.follow_returned_terms
        )
        if following:
            school_id, advisor_id, _ = following[0]
        else:
            top = store.run_rows(connection, run.run_id, limit=1)[0]
            school_id, advisor_id = top.school_id, top.advisor_id
    schools = read_table(engine, "schools", columns=["school_id", "province"])
    province = schools.loc[schools["school_id"] == school_id, "province"].dropna()
    province_name = str(province.iloc[0]) if len(province) else ""
    area = schools_of_province(engine, province_name) if province_name else [school_id]
    suffix = random.token_hex(2)  # a second demo in the same database gets new names
    people: dict[str, tuple[str, str | None, str | None, list[str]]] = {
        "advisor": ("ครูที่ปรึกษา (demo)", advisor_id, school_id, []),
        "committee": ("กรรมการดูแลช่วยเหลือ (demo)", None, school_id, []),
        "data_officer": ("เจ้าหน้าที่ข้อมูล (demo)", None, school_id, []),
        "area": (f"เขตพื้นที่ {province_name} (demo)", None, None, area),
        "analyst": ("นักวิเคราะห์ (demo)", None, None, []),
        "admin": ("ผู้ดูแลระบบ (demo)", None, None, []),
    }
    tokens: dict[str, str] = {}
    lines = []
    for role, (name, staff_id, own_school, followed) in people.items():
        username = f"{role.replace('_', '-')}-{suffix}"
        user, token = create_user(
            engine,
            role,
            name,
            staff_id=staff_id,
            school_id=own_school,
            username=username,
            schools=followed,
            actor=actor(),
        )
        password = temporary_password()
        set_password(engine, user.user_id, password, actor(), must_change=True)
        tokens[role] = token
        lines.append(f"{role:<13} username {username:<20} password {password}  token {token}")
    # Whole, never cut to the terminal's width, and kept in a file only its owner reads.
    console.print("Demo accounts (passwords are temporary: change them at first sign-in):")
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    DEMO_ACCOUNTS.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ACCOUNTS.touch(mode=0o600, exist_ok=True)
    DEMO_ACCOUNTS.chmod(0o600)
    DEMO_ACCOUNTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    console.print(f"(also in {DEMO_ACCOUNTS}, readable by you only)")
    console.print(
        f"(advisor {advisor_id} and committee of school {school_id}; the area office "
        f"follows {', '.join(area)})"
    )
    return tokens | {"school": school_id}
