"""The admin's pages: accounts, operations and the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from schooldata import audit
from schooldata.contract import SCHOOLS
from schooldata.ingest import SchoolRefused, add_school
from serving import i18n, translate
from serving.accounts import (
    EMAIL,
    RENEW_DAYS,
    ROLES,
    AccountError,
    User,
    accounts_for_classrooms,
    create_user,
    known_schools,
    list_users,
    revoke,
    set_messages,
    set_password,
    temporary_password,
    tokens_to_renew,
    unassigned_classrooms,
)
from serving.deps import (
    AppState,
    StateDep,
    route_of,
)
from serving.export import csv_bytes
from serving.operations import operations
from serving.routes.pages import (
    AdminUser,
    attachment,
    check_csrf,
    language,
    render,
)
from serving.schemas import RecordId

router = APIRouter(include_in_schema=False)


def _admin(
    request: Request,
    state: AppState,
    user: User,
    status_code: int = 200,
    notice: str | None = None,
    secret: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    school_form: dict[str, str] | None = None,
    issued: list[dict[str, str]] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin.html",
        user,
        status_code,
        school_form=school_form,
        issued=issued,
        schools=known_schools(state.engine),
        affiliations=_choices("affiliation", language(request)),
        areas=_choices("area", language(request)),
        accounts=list_users(state.engine),
        to_renew=tokens_to_renew(state.engine),
        renew_days=RENEW_DAYS,
        classrooms=unassigned_classrooms(state.engine),
        roles=ROLES,
        notice=notice,
        secret=secret,
        error=error,
        form=form,
    )


def _choices(column: str, lang: str) -> list[tuple[str, str]]:
    """A schools column's values with the words a Thai page gives them (สพฐ., ชนบท)."""
    described = SCHOOLS.column(column)
    thai = {code: word for word, code in described.aliases.items()}
    return [
        (code, thai.get(code, code) if lang == "th" else code) for code in described.allowed or ()
    ]


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """Accounts: create, reset a password, deactivate. No secret is ever shown twice."""
    return _admin(request, state, user)


@router.get("/admin/operations", response_class=HTMLResponse)
def operations_page(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """The weekly runs: last and next, how long they take, skipped schools, failures with
    their error ids, messages and the scorer in use."""
    return render(request, "operations.html", user, ops=operations(state.settings, state.engine))


AUDIT_ROWS = 100  # the newest rows the page shows; its file holds every row selected
Condition = Annotated[str, Query(max_length=100)]


class _Asked:
    """The audit page's conditions, from its query (blank: any)."""

    def __init__(
        self,
        school: Condition = "",
        student: Condition = "",
        account: Condition = "",
        action: Condition = "",
        since: Condition = "",
        until: Condition = "",
    ) -> None:
        conditions = (school, student, account, action, since, until)
        names = ("school", "student", "account", "action", "since", "until")
        self.given = {k: v.strip() for k, v in zip(names, conditions, strict=True)}

    def where(self) -> audit.Filter:
        """The log's filter. Raises ValueError: a day that is not YYYY-MM-DD."""
        given = {k: v or None for k, v in self.given.items()}
        since, until = (
            date.fromisoformat(d) if (d := given[k]) else None for k in ("since", "until")
        )
        return audit.Filter(
            school_id=given["school"],
            student_id=given["student"],
            username=given["account"],
            action=given["action"],
            since=since,
            until=until,
        )


AskedDep = Annotated[_Asked, Depends()]


def _audit_read(state: AppState, request: Request, user: User, where: audit.Filter) -> None:
    """Reading the log is itself a read about the child asked after: logged."""
    audit.record(
        state.engine,
        [
            audit.Entry(
                "audit_read",
                route_of(request),
                user.user_id,
                where.student_id,
                school_id=where.school_id,
                detail=where.describe()[:200],
            )
        ],
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    state: StateDep,
    user: AdminUser,
    asked: AskedDep,
) -> HTMLResponse:
    """Who read or changed which child's records, and when (a parent's request under the
    PDPA: who saw my child's records?), newest first, as ``ews audit show`` reads it."""
    try:
        where = asked.where()
    except ValueError:
        return render(request, "audit.html", user, 422, asked=asked.given, rows=None, bad_day=True)
    rows = audit.entries(state.engine, where, limit=AUDIT_ROWS)
    _audit_read(state, request, user, where)
    return render(
        request,
        "audit.html",
        user,
        asked=asked.given,
        rows=_cells(rows),
        shown=AUDIT_ROWS,
        bad_day=False,
    )


def _cells(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as a page shows them: a missing value None, an account's number whole."""
    cells = [
        {str(k): v for k, v in row.items()}
        for row in rows.astype(object).where(rows.notna(), None).to_dict("records")
    ]
    for cell in cells:
        if cell["user_id"] is not None:
            cell["user_id"] = int(cell["user_id"])
    return cells


@router.get("/admin/audit.csv")
def audit_file(
    request: Request,
    state: StateDep,
    user: AdminUser,
    asked: AskedDep,
) -> Response:
    """Every row the audit page's conditions select, as a CSV file."""
    try:
        where = asked.where()
    except ValueError:
        said = i18n.words(language(request))["audit_bad_day"]
        return Response(said, status_code=422, media_type="text/plain; charset=utf-8")
    rows = audit.entries(state.engine, where)
    _audit_read(state, request, user, where)
    return attachment(csv_bytes(rows), "audit-log.csv")  # as ``ews audit show --out`` writes


@router.post("/admin/accounts", response_class=HTMLResponse)
def admin_create(
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
    role: Annotated[str, Form(max_length=40)],
    name: Annotated[str, Form(max_length=200)],
    username: Annotated[str, Form(max_length=40)],
    school_id: Annotated[str, Form(max_length=64)] = "",
    staff_id: Annotated[str, Form(max_length=64)] = "",
    schools: Annotated[str, Form(max_length=4000)] = "",
    province: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    chair: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    actor = f"user:{user.user_id}"
    # What was typed comes back with an error, so nothing has to be typed again.
    typed = {
        "role": role,
        "name": name,
        "username": username,
        "school_id": school_id,
        "staff_id": staff_id,
        "schools": schools,
        "province": province,
        "email": email,
        "chair": chair,
    }
    if email.strip() and not EMAIL.match(email.strip()):
        return _admin(request, state, user, 422, error=words["email_invalid"], form=typed)
    try:
        followed = [s.strip() for s in schools.split(",") if s.strip()]
        created, _token = create_user(  # the token is not shown: people sign in by password
            state.engine,
            role,
            name.strip(),
            staff_id=staff_id.strip() or None,
            school_id=school_id.strip() or None,
            username=username.strip().lower(),
            schools=followed,
            province=province,
            actor=actor,
            chair=bool(chair),
        )
        temporary = temporary_password()
        set_password(state.engine, created.user_id, temporary, actor, must_change=True)
        if email.strip():
            set_messages(state.engine, created.user_id, email, True, actor)
    except AccountError as error:
        return _admin(request, state, user, 422, error=str(error), form=typed)
    return _admin(
        request,
        state,
        user,
        notice=words["temporary_for"].format(created.username),
        secret=temporary,
    )


@router.post("/admin/schools", response_class=HTMLResponse)
def admin_add_school(
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
    school_id: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)] = "",
    province: Annotated[str, Form(max_length=200)] = "",
    affiliation: Annotated[str, Form(max_length=40)] = "",
    area: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse:
    """A school nobody has sent a file of yet, so that its accounts can be made."""
    check_csrf(request, csrf)
    lang = language(request)
    typed = {
        "school_id": school_id,
        "name": name,
        "province": province,
        "affiliation": affiliation,
        "area": area,
    }
    entry = audit.Entry(
        "school_added",
        route_of(request),
        user_id=user.user_id,
        school_id=school_id.strip(),
        actor=f"user:{user.user_id}",
    )
    try:
        add_school(state.engine, typed, entry)
    except SchoolRefused as refused:
        said = [
            f"{translate.column_word(column, lang)}: {translate.in_language(reason, lang)}"
            if column
            else translate.in_language(reason, lang)
            for column, reason in refused.problems
        ]
        return _admin(request, state, user, 422, error="; ".join(said), school_form=typed)
    words = i18n.words(lang)
    return _admin(request, state, user, notice=words["school_added"].format(school_id.strip()))


@router.post("/admin/classrooms", response_class=HTMLResponse)
def admin_classroom_accounts(
    request: Request, state: StateDep, user: AdminUser, csrf: Annotated[str, Form()]
) -> HTMLResponse:
    """An advisor's account for every classroom nobody advises yet, in one step, with a
    sheet of sign-in names and temporary passwords to hand over (shown once)."""
    check_csrf(request, csrf)
    lang = language(request)
    words = i18n.words(lang)
    issued = accounts_for_classrooms(
        state.engine,
        lambda group: words["classroom_advisor"].format(i18n.classroom(group, lang)),
        f"user:{user.user_id}",
    )
    for account in issued:
        account["classroom"] = i18n.classroom(account["group"], lang)
    return _admin(request, state, user, issued=issued)


@router.post("/admin/accounts/{account_id}/reset", response_class=HTMLResponse)
def admin_reset(
    request: Request,
    account_id: RecordId,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
) -> HTMLResponse:
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    temporary = temporary_password()
    try:
        set_password(state.engine, account_id, temporary, f"user:{user.user_id}", must_change=True)
    except AccountError as error:
        return _admin(request, state, user, 404, error=str(error))
    named = next((a for a in list_users(state.engine) if a["user_id"] == account_id), None)
    label = (named or {}).get("username") or str(account_id)
    return _admin(
        request, state, user, notice=words["temporary_for"].format(label), secret=temporary
    )


@router.post("/admin/accounts/{account_id}/deactivate", response_class=HTMLResponse)
def admin_deactivate(
    request: Request,
    account_id: RecordId,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
) -> HTMLResponse:
    check_csrf(request, csrf)
    if account_id == user.user_id:
        return _admin(request, state, user, 422, error="you cannot deactivate your own account")
    words = i18n.words(language(request))
    try:
        revoke(state.engine, account_id, f"user:{user.user_id}")
    except AccountError as error:
        return _admin(request, state, user, 404, error=str(error))
    return _admin(request, state, user, notice=words["deactivated"].format(account_id))


# ---------------------------------------------------------------- a school's data officer
