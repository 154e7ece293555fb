"""A student whom this week's list places at another school is shown to their advisor
among the things to do, with what to do, never silently missing from the list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa

from schooldata.tables import TABLES, student_scores
from serving.accounts import create_user, set_password
from serving.app import create_app
from serving.scoring import weekly_run
from tests.conftest import scratch_settings
from tests.serving.conftest import WEEKS, Api, copy_without_runs, serving, shoot, sign_in

AS_OF = pd.Timestamp(WEEKS[-1])
MOVED = "90001"  # the other school's code for the advisor's student


def _enrolled_at_the_other_school_too(api: Api, engine: sa.Engine) -> str:
    """The advisor's student is also the other school's student ``MOVED`` (the same child
    by their ID), enrolled there in the same term and marked at school there on the days
    of the term; this school has not marked them at school this term. Returns the
    student's advisor code."""
    students, enrolled = TABLES["students"], TABLES["enrollments"]
    attendance = TABLES["attendance"]
    with engine.begin() as connection:
        child = connection.execute(
            sa.select(students).where(
                (students.c.school_id == api.school) & (students.c.student_id == api.own_student)
            )
        ).one()
        enrolment = connection.execute(
            sa.select(enrolled)
            .where(
                (enrolled.c.school_id == api.school) & (enrolled.c.student_id == api.own_student)
            )
            .order_by(enrolled.c.academic_year.desc(), enrolled.c.term.desc())
        ).first()
        assert enrolment is not None
        days = connection.execute(
            sa.select(attendance.c.date).where(
                (attendance.c.school_id == api.school)
                & (attendance.c.student_id == api.own_student)
                & (attendance.c.date <= AS_OF.date())
                & (attendance.c.date >= (AS_OF - pd.Timedelta(days=60)).date())
            )
        ).scalars()
        days = list(days)
        connection.execute(
            sa.delete(attendance).where(
                (attendance.c.school_id == api.school)
                & (attendance.c.student_id == api.own_student)
                & (attendance.c.date.in_(days))
            )
        )
        connection.execute(
            sa.insert(students).values(
                {**child._asdict(), "school_id": api.other_school, "student_id": MOVED}
            )
        )
        connection.execute(
            sa.insert(enrolled).values(
                {**enrolment._asdict(), "school_id": api.other_school, "student_id": MOVED}
            )
        )
        connection.execute(
            sa.insert(attendance),
            [
                {"school_id": api.other_school, "student_id": MOVED, "date": d, "status": "present"}
                for d in days
            ],
        )
    return str(enrolment.advisor_id)


def test_a_student_the_list_places_at_another_school_is_shown_to_their_advisor(
    page: Any, api: Api, synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    """Before: the student was simply not on the list, without a word (their class list
    had them, the week's list did not)."""
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    advisor_code = _enrolled_at_the_other_school_too(api, engine)
    weekly_run(engine, api.scorer, AS_OF)
    with engine.connect() as connection:
        query = sa.select(student_scores.c.school_id, student_scores.c.student_id)
        listed = {tuple(row) for row in connection.execute(query)}
    assert (api.other_school, MOVED) in listed
    assert (api.school, api.own_student) not in listed

    advisor, advisor_token = create_user(
        engine, "advisor", "ครู", staff_id=advisor_code, school_id=api.school, username="adv"
    )
    set_password(engine, advisor.user_id, "advisor-elsewhere-pw", "tests", must_change=False)
    _, colleague_token = create_user(
        engine, "advisor", "ครูอื่น", staff_id="nobody-here", school_id=api.school
    )
    _, theirs_token = create_user(engine, "committee", "กรรมการ", school_id=api.other_school)
    settings = scratch_settings(str(engine.url), tmp_path)
    with serving(create_app(settings, scorer=api.scorer)) as url:

        def elsewhere(token: str) -> list[str]:
            answer = httpx.get(
                f"{url}/api/v1/listed-elsewhere",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            return [row["student_id"] for row in answer.json()]

        assert elsewhere(advisor_token) == [api.own_student]
        assert elsewhere(colleague_token) == []  # not their student
        assert elsewhere(theirs_token) == []  # on their list, as the other school's

        sign_in(page, url, "adv", "advisor-elsewhere-pw")
        page.goto(url + "/list")
        assert page.locator("table.list tr.student").count() > 0
        assert page.locator("section.elsewhere").count() == 0  # the list stays the list
        page.goto(url + "/actions")
        rows = page.locator("section.elsewhere li.elsewhere-student")
        assert [r.get_attribute("data-student") for r in rows.all()] == [api.own_student]
        text = page.locator("section.elsewhere").inner_text()
        assert "เลขประจำตัวประชาชน" in text  # what to do: check the ID, or mark them here
        assert api.other_school not in text  # the other school is not named
        shoot(page, "actions-elsewhere")
