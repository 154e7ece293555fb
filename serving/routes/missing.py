"""The missing children's worklist pages: each school's cases, one case with what staff
found, a file of findings, the area office's counts and the ministry's reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core import clock
from schooldata.contract import REASON_CODES
from schooldata.missing import HELP, REFERRED_OUTSIDE, STAFF_STATUSES
from schooldata.spreadsheet import csv_bytes, xlsx_bytes
from serving import worklist, worklist_report
from serving.accounts import Caller
from serving.deps import AppState, StateDep, WebCaller
from serving.once import sent
from serving.records import ChangedSince, InvalidInput, KeySentAgain, NotVisible
from serving.routes.pages import (
    AccountChoice,
    CaseCaller,
    CountUser,
    FormKey,
    WorklistCaller,
    attachment,
    check_csrf,
    language,
    not_found,
    render,
)
from serving.schemas import RecordId

router = APIRouter(include_in_schema=False)
MAX_FILE_BYTES = 2_000_000


def _words(lang: str) -> dict[str, Any]:
    """What the worklist's templates say of statuses, reasons and help."""
    index = 0 if lang == "th" else 1
    return {
        "status_word": lambda s: worklist.STATUS_WORDS[s][index],
        "reason_word": lambda c: worklist_report.reason_word(int(c), lang),
        "help_word": lambda h: worklist_report.help_word(h, lang),
        "report_word": lambda k: worklist_report.word(k, lang),
        "age_bands": [band for *_, band in worklist.AGE_BANDS],
        "accepted": ",".join(worklist.FINDINGS_FILES),
    }


@router.get("/missing", response_class=HTMLResponse)
def missing_page(
    request: Request,
    state: StateDep,
    caller: WorklistCaller,
    show: Annotated[str, Query(pattern="^(open|all)$")] = "open",
    applied: int | None = None,
) -> HTMLResponse:
    """The children to look for: a school's cases, an area office's counts."""
    found = worklist.cases(state.engine, caller, open_only=show == "open")
    return render(
        request,
        "missing.html",
        caller.user,
        cases=found,
        counts=worklist.counts(state.engine, caller.user),
        older=worklist.older_open(state.engine, caller.user) if show == "open" else 0,
        show=show,
        applied=applied,
        problems=[],
        referred_statuses=REFERRED_OUTSIDE,
        **_words(language(request)),
    )


@router.get("/missing/report.{kind}")
def missing_report(
    request: Request,
    state: StateDep,
    user: CountUser,
    kind: str,
    lang: Annotated[str | None, Query(pattern="^(th|en)$")] = None,
) -> Response:
    """The ministry's reports of the worklist, as Excel or CSV (Thai unless asked)."""
    if kind not in ("xlsx", "csv"):
        return not_found(request, user)
    made = worklist_report.report(state.engine, user, lang or language(request))
    body = made.xlsx() if kind == "xlsx" else made.csv()
    return attachment(body, f"missing-children-{clock.today().isoformat()}.{kind}")


@router.get("/missing/cases.{kind}")
def missing_cases_file(
    request: Request,
    state: StateDep,
    caller: CaseCaller,
    kind: str,
    lang: Annotated[str | None, Query(pattern="^(th|en)$")] = None,
) -> Response:
    """One's open cases as a file of findings to fill in and send back (Excel or CSV)."""
    if kind not in ("xlsx", "csv"):
        return not_found(request, caller.user)
    lang = lang or language(request)
    sheet = worklist.findings_sheet(state.engine, caller, lang)
    name = f"missing-children-findings-{clock.today().isoformat()}.{kind}"
    if kind == "xlsx":
        return attachment(xlsx_bytes({worklist_report.word("findings_sheet", lang): sheet}), name)
    return attachment(csv_bytes(sheet), name)


@router.post("/missing/file", response_class=HTMLResponse)
async def missing_file(
    request: Request,
    state: StateDep,
    caller: CaseCaller,
    csrf: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    """A file of findings, a row a case (the columns of the case's form)."""
    check_csrf(request, csrf)
    content = await file.read(MAX_FILE_BYTES + 1)
    name = file.filename or "file"
    problems: list[tuple[int, str]] = []
    try:
        if len(content) > MAX_FILE_BYTES:
            raise InvalidInput(f"{name}: larger than 2 MB")
        result = worklist.apply_file(state.engine, caller, worklist.read_findings(name, content))
    except (InvalidInput, ValueError) as error:
        problems = [(0, str(error))]
        result = worklist.FileResult(0, [])
    if not result.problems and not problems:
        return RedirectResponse(f"/missing?applied={result.applied}", status_code=303)
    return render(
        request,
        "missing.html",
        caller.user,
        status_code=422,
        cases=worklist.cases(state.engine, caller, open_only=True),
        counts=worklist.counts(state.engine, caller.user),
        older=worklist.older_open(state.engine, caller.user),
        show="open",
        applied=result.applied,
        problems=problems + result.problems,
        file_name=name,
        referred_statuses=REFERRED_OUTSIDE,
        **_words(language(request)),
    )


@router.get("/missing/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, state: StateDep, caller: WebCaller, case_id: RecordId, saved: int = 0
) -> HTMLResponse:
    """One child to look for, what was found and the form to record more."""
    return _case_page(request, state, caller, case_id, saved=bool(saved))


def _case_page(
    request: Request,
    state: AppState,
    caller: Caller,
    case_id: int,
    error: str | None = None,
    status_code: int = 200,
    saved: bool = False,
    sent: worklist.CaseChange | None = None,
) -> HTMLResponse:
    """The case's page, with what was wrong in the form just sent if anything (never
    from the address), its form filled in as it was sent (``sent``) or with the case's
    findings."""
    try:
        found = worklist.case(state.engine, caller, case_id)
    except NotVisible:
        return not_found(request, caller.user)
    form = sent or worklist.unchanged(found)
    return render(
        request,
        "missing_case.html",
        caller.user,
        status_code,
        case=found,
        form=form,
        version=form.seen or found.version,
        staff=worklist.staff_of(state.engine, found.school_id),
        statuses=STAFF_STATUSES,
        reasons=list(REASON_CODES),
        helps=HELP,
        today=clock.today().isoformat(),
        error=error,
        saved=saved,
        **_words(language(request)),
    )


@router.post("/missing/{case_id}", response_class=HTMLResponse)
def update_case(
    request: Request,
    state: StateDep,
    caller: WebCaller,
    case_id: RecordId,
    csrf: Annotated[str, Form()],
    status: Annotated[str, Form(max_length=40)],
    owner: AccountChoice = "",
    reason_code: Annotated[str, Form(max_length=4)] = "",
    help_needed: Annotated[list[str] | None, Form()] = None,
    agency: Annotated[str, Form(max_length=200)] = "",
    found_school_id: Annotated[str, Form(max_length=64)] = "",
    found_on: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    version: Annotated[str, Form(max_length=32)] = "",
    once: FormKey = "",
) -> Response:
    """Record what staff found of a case."""
    check_csrf(request, csrf)
    change = None
    try:
        change = worklist.CaseChange(
            status=status,
            owner_user_id=int(owner) if owner.isdigit() else None,
            reason_code=int(reason_code) if reason_code.isdigit() else None,
            help_needed=tuple(help_needed or ()),
            agency=agency.strip() or None,
            found_school_id=found_school_id.strip() or None,
            found_on=date.fromisoformat(found_on) if found_on else None,
            note=note.strip() or None,
            seen=version or None,
        )
        worklist.update_case(
            state.engine, caller, case_id, change, sent(caller.user.user_id, once, case_id, change)
        )
    except NotVisible:
        return not_found(request, caller.user)
    except (KeySentAgain, ChangedSince) as error:  # the page as the case is now
        return _case_page(request, state, caller, case_id, str(error), 409)
    except (InvalidInput, ValueError) as error:  # the form as sent, to mend
        return _case_page(request, state, caller, case_id, str(error), 422, sent=change)
    return RedirectResponse(f"/missing/{case_id}?saved=1", status_code=303)
