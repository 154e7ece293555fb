"""The data officer's upload: check the school's files, then confirm or cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from schooldata import audit
from schooldata.loads import Undone
from serving import i18n, operations, translate, uploads
from serving.accounts import (
    User,
)
from serving.deps import (
    AppState,
    StateDep,
    route_of,
)
from serving.routes.pages import (
    UploadUser,
    check_csrf,
    language,
    render,
)
from serving.schemas import RecordId

router = APIRouter(include_in_schema=False)


def _upload(
    request: Request,
    state: AppState,
    user: User,
    status_code: int = 200,
    staged: uploads.Staged | None = None,
    loaded: uploads.Staged | None = None,
    error: str | None = None,
    undone: Undone | None = None,
) -> HTMLResponse:
    shown = staged or loaded
    lang = language(request)
    rejects = []
    if shown is not None:
        # Files by the names the person chose (stored by their source and order).
        chosen = {f.stored: f.name for f in shown.files}
        for report in shown.report.sources:
            for row in (
                report.rejects.astype(object).where(report.rejects.notna(), "").to_dict("records")
            ):
                stored = str(row["file"])
                path = stored.split(":")[0]
                row["file"] = chosen.get(path, stored) + stored[len(path) :]
                row["reason"] = translate.in_language(row["reason"], lang)
                row["column"] = translate.column_word(row["column"], lang)
                rejects.append(row)
    return render(
        request,
        "upload.html",
        user,
        status_code,
        staged=staged,
        loaded=loaded,
        rejects=rejects,
        error=error,
        undone=undone,
        last=None if staged else uploads.last_upload(state.engine, user),
        in_list=None
        if staged or not user.school_id
        else operations.school_in_list(state.engine, user.school_id),
        remade_on_upload=state.runner is not None,
        accepted=",".join(uploads.ACCEPTED),
        covered=lambda terms, dates: i18n.covered(terms, dates, lang),
        source_word=lambda k: i18n.pick(i18n.SOURCES, k, language(request)),
        unread_word=lambda note: translate.unread_column(note, lang),
    )


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, state: StateDep, user: UploadUser) -> HTMLResponse:
    """Upload the school's own files (CSV or Excel), check them, then load them."""
    return _upload(request, state, user)


@router.post("/upload", response_class=HTMLResponse)
def upload_files(
    request: Request,
    state: StateDep,
    user: UploadUser,
    csrf: Annotated[str, Form()],
    files: Annotated[list[UploadFile], File()],
) -> HTMLResponse:
    """Stage the files and show what a load would do; nothing is written yet."""
    check_csrf(request, csrf)
    received = [(f.filename or "file", f.file.read()) for f in files]
    try:
        staged = uploads.stage(state.settings, state.engine, user, received)
    except uploads.UploadError as error:
        _audit_upload(request, state, user, "upload_refused", str(error))
        return _upload(request, state, user, 422, error=str(error))
    _audit_upload(request, state, user, "upload_checked", _summary(staged))
    return _upload(request, state, user, staged=staged)


@router.post("/upload/{token}/confirm", response_class=HTMLResponse)
def upload_confirm(
    request: Request, state: StateDep, user: UploadUser, token: str, csrf: Annotated[str, Form()]
) -> HTMLResponse:
    """Load a checked upload in one transaction."""
    check_csrf(request, csrf)
    try:
        loaded = uploads.confirm(state.settings, state.engine, user, token)
    except uploads.UploadError as error:
        return _upload(request, state, user, 404, error=str(error))
    _audit_upload(request, state, user, "upload_loaded", _summary(loaded))
    _remake_weeks_list(state, user)
    return _upload(request, state, user, loaded=loaded)


@router.post("/upload/undo/{load_id}", response_class=HTMLResponse)
def upload_undo(
    request: Request,
    state: StateDep,
    user: UploadUser,
    load_id: RecordId,
    csrf: Annotated[str, Form()],
) -> HTMLResponse:
    """Put the school's records back as they were before its latest upload."""
    check_csrf(request, csrf)
    try:
        undone = uploads.undo(state.engine, user, load_id)
    except uploads.UploadError as error:
        _audit_upload(request, state, user, "upload_undo_refused", str(error))
        return _upload(request, state, user, 409, error=str(error))
    counts = "; ".join(f"{t}: {a} -> {b}" for t, (a, b) in undone.tables.items())
    _audit_upload(request, state, user, "upload_undone", f"load {load_id}; {counts}"[:1000])
    _remake_weeks_list(state, user)
    return _upload(request, state, user, undone=undone)


@router.post("/upload/{token}/cancel", response_class=HTMLResponse)
def upload_cancel(
    request: Request, state: StateDep, user: UploadUser, token: str, csrf: Annotated[str, Form()]
) -> HTMLResponse:
    check_csrf(request, csrf)
    try:
        uploads.cancel(state.settings, user, token)
    except uploads.UploadError as error:
        return _upload(request, state, user, 404, error=str(error))
    _audit_upload(request, state, user, "upload_cancelled", "")
    return _upload(request, state, user)


def _remake_weeks_list(state: AppState, user: User) -> None:
    """The school's list of this week is made again from its records as they are now (an
    upload loaded or undone), in the background."""
    if state.runner is not None and user.school_id:
        state.runner.rerun_school(user.school_id)


def _summary(staged: uploads.Staged) -> str:
    """What an upload held, in counts only (no name, no value from the files)."""
    return "; ".join(
        f"{s.source}: read {s.rows_read}, loaded {s.rows_loaded}, rejected {s.rows_rejected}, "
        f"blanked {s.values_blanked}" + (" (refused)" if s.refused else "")
        for s in staged.report.sources
    )[:1000]


def _audit_upload(request: Request, state: AppState, user: User, action: str, detail: str) -> None:
    entry = audit.Entry(action, route_of(request), user.user_id, detail=detail)
    audit.record(state.engine, [entry])
