"""Follow-through pages: a flagged student's case (opened, reviewed, noted, closed, printed
as a brief) and what needs action (students nobody has acted on, reviews due)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core import clock
from schooldata import audit
from schooldata.db import reading
from schooldata.tables import TABLES, support_cases
from serving import cases, followups, records
from serving.access import StudentKey, student_key
from serving.accounts import Caller
from serving.brief import BriefError, make_brief
from serving.deps import StateDep, WebCaller
from serving.i18n import percent
from serving.once import sent
from serving.records import InvalidInput, NotVisible
from serving.routes.pages import (
    AccountChoice,
    AreaUser,
    FormKey,
    attachment,
    check_csrf,
    leave_word,
    local_target,
    not_found,
    render,
)
from serving.schemas import RecordId

router = APIRouter(include_in_schema=False)


def _back(request: Request, student_id: str, error: str | None = None) -> str:
    """The student's page, at the plans, with what was wrong if anything."""
    target = f"/students/{quote(student_id)}"
    if error:
        leave_word(request, target, error)
    return f"{target}#case"


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@router.post("/students/{student_id}/case")
def open_case(
    request: Request,
    student_id: str,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    planned: Annotated[str, Form(max_length=40)],
    owner: AccountChoice = "",
    plan_text: Annotated[str, Form(max_length=2000)] = "",
    first_review: Annotated[str, Form(max_length=10)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
    once: FormKey = "",
) -> Response:
    """Open a flagged student's case: the plan, who owns it, when it is looked at again."""
    check_csrf(request, csrf)
    try:
        cases.open_case(
            state.engine,
            caller,
            student_key(caller.user, student_id),
            planned=planned,
            owner_user_id=int(owner) if owner.isdigit() else None,
            plan_text=plan_text,
            first_review=_date(first_review),
            once=sent(
                caller.user.user_id, once, student_id, planned, owner, plan_text, first_review
            ),
        )
    except NotVisible:
        return not_found(request, caller.user)
    except (InvalidInput, ValueError) as error:
        return RedirectResponse(_back(request, student_id, str(error)), status_code=303)
    return RedirectResponse(local_target(back, _back(request, student_id)), status_code=303)


def _student_of(state: StateDep, case_id: int) -> StudentKey | None:
    """The case's student (at the case's school), or None for no such case."""
    with reading(state.engine) as connection:
        found = connection.execute(
            sa.select(support_cases.c.school_id, support_cases.c.student_id).where(
                support_cases.c.case_id == case_id
            )
        ).first()
    return None if found is None else StudentKey(*found)


def _on_case(
    request: Request, state: StateDep, caller: Caller, case_id: int, change: Callable[[], None]
) -> Response:
    """Make a change to a case and go back to the student's page: saying what was wrong,
    or 404 for a case out of scope."""
    found = _student_of(state, case_id)
    student = found.student_id if found else ""
    try:
        change()
    except NotVisible:
        return not_found(request, caller.user)
    except (InvalidInput, ValueError) as error:
        return RedirectResponse(_back(request, student, str(error)), status_code=303)
    return RedirectResponse(_back(request, student), status_code=303)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: RecordId, state: StateDep, caller: WebCaller) -> Response:
    """A case is on its student's page (where a case's form sent after the session
    ended leads back, after sign-in)."""
    student = _student_of(state, case_id)
    if student is None:
        return not_found(request, caller.user)
    try:
        records.require_student(state.engine, caller, student)
    except NotVisible:
        return not_found(request, caller.user)
    return RedirectResponse(_back(request, student.student_id), status_code=303)


@router.post("/cases/{case_id}/review")
def review_case(
    request: Request,
    case_id: RecordId,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    next_review: Annotated[str, Form(max_length=10)] = "",
    once: FormKey = "",
) -> Response:
    """Record a review of the case and when the next one is."""
    check_csrf(request, csrf)
    return _on_case(
        request,
        state,
        caller,
        case_id,
        lambda: cases.review(
            state.engine,
            caller,
            case_id,
            note=note,
            next_review=_date(next_review),
            once=sent(caller.user.user_id, once, case_id, note, next_review),
        ),
    )


@router.post("/cases/{case_id}/close")
def close_case(
    request: Request,
    case_id: RecordId,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    outcome: Annotated[str, Form(max_length=40)],
    once: FormKey = "",
) -> Response:
    """Close the case with its outcome."""
    check_csrf(request, csrf)
    return _on_case(
        request,
        state,
        caller,
        case_id,
        lambda: cases.close_case(
            state.engine,
            caller,
            case_id,
            outcome,
            sent(caller.user.user_id, once, case_id, outcome),
        ),
    )


@router.post("/cases/{case_id}/notes")
def add_note(
    request: Request,
    case_id: RecordId,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    text: Annotated[str, Form(max_length=4000)],
    restricted: Annotated[str, Form(max_length=20)] = "",
    in_brief: Annotated[str, Form(max_length=5)] = "",
    once: FormKey = "",
) -> Response:
    """A note on the case; protection and health notes are restricted."""
    check_csrf(request, csrf)
    return _on_case(
        request,
        state,
        caller,
        case_id,
        lambda: cases.add_note(
            state.engine,
            caller,
            case_id,
            text,
            restricted=restricted or None,
            in_brief=bool(in_brief),
            once=sent(caller.user.user_id, once, case_id, text, restricted, in_brief),
        ),
    )


@router.get("/cases/{case_id}/brief.pdf")
def brief(
    request: Request,
    case_id: RecordId,
    state: StateDep,
    caller: WebCaller,
    ask: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The case's printed brief for a committee meeting or a referral (audited)."""
    key = _student_of(state, case_id)
    if key is None or not caller.user.school_id:
        return not_found(request, caller.user)
    try:
        found = [c for c in cases.cases_of(state.engine, caller, key) if c.case_id == case_id]
        detail = records.student_detail(state.engine, caller, key)
    except NotVisible:
        return not_found(request, caller.user)
    if not found:
        return not_found(request, caller.user)
    latest = detail.latest
    with reading(state.engine) as connection:
        school = connection.execute(
            sa.select(TABLES["schools"].c.name).where(
                TABLES["schools"].c.school_id == key.school_id
            )
        ).scalar()
        grades = _gpa_by_term(connection, key)
    try:
        pdf = make_brief(
            case=found[0],
            name=detail.name,
            classroom=latest.classroom if latest else None,
            school_name=school,
            reasons=[r.text_th for r in latest.reasons] if latest else [],
            risk_text=percent(latest.risk) if latest else None,
            grades=grades,
            request=ask,
            printed_by=caller.user.name,
            font=state.settings.brief_font,
        )
    except BriefError as error:
        return render(request, "message.html", caller.user, 503, heading="PDF", text=str(error))
    audit.record(
        state.engine,
        [
            audit.Entry(
                "print",
                caller.route,
                caller.user.user_id,
                key.student_id,
                detail=f"case {case_id} brief",
                school_id=key.school_id,
            )
        ],
    )
    return attachment(pdf, f"brief-{key.student_id}-{clock.today().isoformat()}.pdf")


def _gpa_by_term(connection: sa.Connection, key: StudentKey) -> list[tuple[int, int, float]]:
    """The student's grade average of each term at this school (numeric grades only)."""
    from features.grades import NUMERIC_GRADES

    grades = TABLES["grades"]
    rows = connection.execute(
        sa.select(grades.c.academic_year, grades.c.term, grades.c.grade).where(
            (grades.c.school_id == key.school_id) & (grades.c.student_id == key.student_id)
        )
    ).all()
    by_term: dict[tuple[int, int], list[float]] = {}
    for year, term, grade in rows:
        if str(grade) in NUMERIC_GRADES:
            by_term.setdefault((int(year), int(term)), []).append(float(grade))
    return [(y, t, sum(v) / len(v)) for (y, t), v in sorted(by_term.items())]


@router.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, state: StateDep, caller: WebCaller) -> HTMLResponse:
    """What needs action: students the week's list places at another school, reviews
    due, flagged students nobody acted on lately, cases by owner."""
    if not caller.user.sees_students:
        return not_found(request, caller.user)
    found = cases.needs_action(state.engine, caller, state.settings.untouched_days)
    elsewhere = followups.listed_elsewhere(state.engine, caller)
    return render(
        request, "actions.html", caller.user, needs=found, elsewhere=elsewhere, today=clock.today()
    )


@router.get("/area/actions", response_class=HTMLResponse)
def area_actions(request: Request, state: StateDep, user: AreaUser) -> HTMLResponse:
    """Per school: flagged students nobody acted on and for how long, and whether the
    latest week's list was used (counts only)."""
    schools = list(user.schools) if user.role == "area" else None
    untouched = cases.untouched_by_school(state.engine, schools, state.settings.untouched_days)
    used = {u.school_id: u for u in cases.usage(state.engine, schools, weeks=1)}
    rows = [
        {"school_id": school, **untouched.get(school, {}), "usage": used.get(school)}
        for school in sorted(set(untouched) | set(used))
    ]
    rows.sort(key=lambda r: (-(r.get("untouched") or 0), r["school_id"]))
    return render(
        request,
        "area_actions.html",
        user,
        rows=rows,
        untouched_days=state.settings.untouched_days,
    )
