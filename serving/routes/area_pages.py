"""The area office's page (an analyst's: every school), counts only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving import area, charts, followups, i18n
from serving.access import student_key
from serving.deps import StateDep, WebCaller
from serving.routes.pages import (
    AreaCaller,
    AreaOfficeCaller,
    check_csrf,
    language,
    render,
)

router = APIRouter(include_in_schema=False)


AREA_PAGE = 50  # schools on a page of the area's table; the totals count every school
REFERRED_PAGE = 50  # referred children on a page; the area page counts every one


@router.get("/area", response_class=HTMLResponse)
def area_page(
    request: Request,
    state: StateDep,
    caller: AreaCaller,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    """An area office's schools (an analyst: every school), counts only: the totals, then
    the schools most in need first (stale data, then the most students at high risk),
    a page at a time."""
    summary = area.area_summary(
        state.engine,
        caller,
        follow_terms=state.settings.follow_returned_terms,
        with_trends=False,
        with_referred=False,
    )
    if summary is None:
        words = i18n.words(language(request))
        return render(
            request, "message.html", caller.user, heading=words["area"], text=words["no_run"]
        )
    ordered = sorted(summary.schools, key=lambda s: (not s.stale, -s.high, -s.watch, s.school_id))
    shown = ordered[(page - 1) * AREA_PAGE : page * AREA_PAGE]
    return render(
        request,
        "area.html",
        caller.user,
        summary=summary,
        schools=shown,
        totals=area.totals(summary.schools),
        page=page,
        more=page * AREA_PAGE < len(ordered),
        trends=area.school_trends(state.engine, caller.user, [s.school_id for s in shown]),
        trend_chart=charts.trend,
        requests=followups.history_requests(state.engine, caller.user),
    )


@router.get("/area/referred", response_class=HTMLResponse)
def referred_page(
    request: Request,
    state: StateDep,
    caller: AreaOfficeCaller,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    school: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The children an area office's schools (or one of them) referred outside, by name,
    a page at a time: the area office follows them with the agencies. An analyst sees
    only their counts (404 here)."""
    found = area.referred_cases(
        state.engine,
        caller,
        school=school or None,
        offset=(page - 1) * REFERRED_PAGE,
        limit=REFERRED_PAGE,
    )
    return render(
        request,
        "area_referred.html",
        caller.user,
        found=found,
        school=school or None,
        page=page,
        more=page * REFERRED_PAGE < found.total,
    )


@router.post("/area/history")
def decide_history(
    request: Request,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    school_id: Annotated[str, Form(max_length=64)],
    student_id: Annotated[str, Form(max_length=64)],
    decision: Annotated[str, Form(pattern="^(grant|decline)$")],
) -> Response:
    """An area office lets a school see a moved child's earlier records, or declines."""
    check_csrf(request, csrf)
    followups.decide_history(
        state.engine,
        caller,
        student_key(caller.user, student_id, school_id),
        decision == "grant",
    )
    return RedirectResponse("/area", status_code=303)
