"""The schools' clock: a server keeps UTC, on which a Thai teacher's morning before 07:00
is still yesterday. What a person means by today is Bangkok's."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from core import clock
from core.settings import Settings
from serving.accounts import create_user
from serving.app import create_app
from serving.brief import make_brief
from serving.cases import Case, Note
from serving.i18n import moment
from tests.conftest import scratch_settings
from tests.serving.conftest import copy_without_runs, serving

# 06:30 on Saturday 28 November in Bangkok; still Friday the 27th on the server.
MORNING = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)


def test_a_teachers_early_morning_is_today_not_yesterday(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(str(engine.url), tmp_path)
    student, school, advisor = (
        pd.read_sql(
            "SELECT student_id, school_id, advisor_id FROM enrollments "
            "ORDER BY academic_year DESC, term DESC LIMIT 1",
            engine,
        )
        .iloc[0]
        .tolist()
    )
    _, token = create_user(engine, "advisor", "ครู", school_id=school, staff_id=advisor)
    headers = {"Authorization": f"Bearer {token}"}

    with serving(create_app(settings)) as url, time_machine.travel(MORNING, tick=True):
        assert clock.today().isoformat() == "2026-11-28"
        visit = {"student_id": student, "type": "home_visit", "outcome": "done"}
        dated = httpx.post(
            f"{url}/api/v1/interventions", json=visit | {"date": "2026-11-28"}, headers=headers
        )
        undated = httpx.post(f"{url}/api/v1/interventions", json=visit, headers=headers)
        tomorrow = httpx.post(
            f"{url}/api/v1/interventions", json=visit | {"date": "2026-11-29"}, headers=headers
        )

    assert dated.status_code == 201, dated.text  # was refused: "date is in the future"
    assert undated.json()["date"] == "2026-11-28"  # was recorded on the 27th
    assert tomorrow.status_code == 422
    assert "future" in tomorrow.text
    assert moment(datetime(2026, 11, 27, 23, 30), "en") == "28 Nov 2026 06:30"


def test_a_stored_moment_falls_on_the_schools_day() -> None:
    stored = MORNING.replace(tzinfo=None)  # as the database keeps it
    assert clock.day_of(stored) == date(2026, 11, 28)
    assert clock.start_of(date(2026, 11, 28)) == datetime(2026, 11, 27, 17, 0)
    assert clock.day_of(clock.start_of(date(2026, 11, 28))) == date(2026, 11, 28)
    assert clock.day_of(clock.start_of(date(2026, 11, 28)) - timedelta(seconds=1)) == date(
        2026, 11, 27
    )


def test_a_note_written_early_in_the_morning_is_printed_with_its_day() -> None:
    note = Note(1, "ครูสมศรี", MORNING.replace(tzinfo=None), "พบผู้ปกครอง", None, True)
    case = Case(
        case_id=1,
        school_id="S1",
        student_id="1",
        opened_on=date(2026, 11, 20),
        opened_by="ครูสมศรี",
        owner_user_id=1,
        owner="ครูสมศรี",
        planned="home_visit",
        plan_text=None,
        review_every_days=14,
        ends_on=date(2027, 1, 1),
        next_review=None,
        closed_on=None,
        outcome=None,
        notes=[note],
    )
    pdf = make_brief(
        case=case,
        name=None,
        classroom=None,
        school_name=None,
        reasons=[],
        risk_text=None,
        grades=[],
        request="",
        printed_by="ครูสมศรี",
        font=Settings().brief_font,
    )
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\x1f", "")
    assert "28 พ.ย. 2569 ครูสมศรี" in text, text  # was the 27th: the server's day
