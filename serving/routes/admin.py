"""The admin's pages: accounts and operations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from serving import i18n
from serving.accounts import (
    EMAIL,
    ROLES,
    AccountError,
    User,
    create_user,
    list_users,
    revoke,
    set_messages,
    set_password,
    temporary_password,
    unassigned_classrooms,
)
from serving.deps import (
    AppState,
    StateDep,
)
from serving.operations import operations
from serving.routes.pages import (
    AdminUser,
    check_csrf,
    language,
    render,
)

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
) -> HTMLResponse:
    return render(
        request,
        "admin.html",
        user,
        status_code,
        accounts=list_users(state.engine),
        classrooms=unassigned_classrooms(state.engine),
        roles=ROLES,
        notice=notice,
        secret=secret,
        error=error,
        form=form,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """Accounts: create, reset a password, deactivate. No secret is ever shown twice."""
    return _admin(request, state, user)


@router.get("/admin/operations", response_class=HTMLResponse)
def operations_page(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """The weekly runs: last and next, how long they take, skipped schools, failures with
    their error ids, messages and the scorer in use."""
    return render(request, "operations.html", user, ops=operations(state.settings, state.engine))


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


@router.post("/admin/accounts/{account_id}/reset", response_class=HTMLResponse)
def admin_reset(
    request: Request,
    account_id: int,
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
    account_id: int,
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
