"""What every page shares: the templates, the page's language, CSRF tokens, rendering,
the not-found and error pages, and the role each page group asks for.

The pages themselves are grouped by who uses them: ``auth`` (signing in, the account,
the language), ``lists`` (the week's list, a student, the home-visit plan),
``area_pages``, ``model_pages``, ``admin`` and ``upload``; ``missing`` and ``cases``
beside them. Sign-in takes a username and password (or single sign-on) and keeps a
server-side session behind an HttpOnly, SameSite=strict cookie; every form carries a
per-session CSRF token; pages use the same records, scopes and audit log as the API.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.routing import Match

from core import clock
from riskmodel.rules import TOP_SCORE
from serving import area, i18n, records, translate, uploads, worklist
from serving.accounts import STUDENT_ROLES, Caller, User
from serving.deps import signed_in_user, web_caller_of, web_user_of

# What a downloaded file is, by the end of its name.
MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
# Dates, classrooms and grade levels as the page's language writes them (30 มี.ค. 2569, ม.5/2).
templates.env.filters["day"] = pass_context(lambda c, v: i18n.day(v, c.get("lang", "th")))
templates.env.filters["moment"] = pass_context(lambda c, v: i18n.moment(v, c.get("lang", "th")))
# The day of a stored moment (UTC) on the schools' clock: a note at 06:30 is today's.
templates.env.filters["moment_day"] = pass_context(
    lambda c, v: i18n.day(clock.day_of(v), c.get("lang", "th"))
)
templates.env.filters["room"] = pass_context(lambda c, v: i18n.classroom(v, c.get("lang", "th")))
templates.env.filters["grade"] = pass_context(lambda c, v: i18n.grade(v, c.get("lang", "th")))
# A check's or a run's English reason in the page's language.
templates.env.filters["said"] = pass_context(
    lambda c, v: translate.in_language(v, c.get("lang", "th")) if v else ""
)
# A ratio or figure with two decimals; an infinite one (nobody in the reference) as ∞.
templates.env.filters["figure"] = lambda v: "–" if v is None else i18n.figure(v)
templates.env.filters["signed"] = i18n.signed
# A new key each time a form that writes is drawn, sent back as ``once``: the form sent
# twice (a double click) is acted on once (``records.record_intervention``'s request key
# for a record of help, ``serving.once`` for the others).
templates.env.globals["form_key"] = lambda: secrets.token_urlsafe(16)
FormKey = Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]
LANG_COOKIE = "lang"
# What the student page shows "at a glance", from the model's inputs of the latest run.


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "th")
    return chosen if chosen in i18n.LANGUAGES else "th"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), submitted):
        raise HTTPException(403, "the form has expired: reload the page and try again")


def local_target(target: str, default: str = "/list") -> str:
    """``target`` if it is a path of this service, else ``default``: where a form or a
    link sends the browser next. Not "//host" nor "/\\host": a browser takes both for
    another site (Chromium reads a backslash as a slash), which would make this service
    a link to anywhere."""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(" " < c for c in target)
    ):
        return target
    return default


def leave_word(request: Request, page: str, text: str) -> None:
    """Keep what was wrong with a form for ``page``, where the browser is sent next (post,
    redirect, get). It travels in the signed session, never in the address: a link anyone
    writes must not put words of its own on the service's page."""
    request.session["word"] = [page, text[:300]]


def take_word(request: Request, page: str) -> str | None:
    """What ``leave_word`` kept for ``page``, once; anything kept for another page is
    dropped."""
    kept = request.session.pop("word", None)
    if isinstance(kept, list) and len(kept) == 2 and kept[0] == page:
        return str(kept[1])
    return None


# Where a person who was signed out was going, kept in the session for after sign-in.
AFTER_SIGN_IN = "after_sign_in"
NOT_SAVED = "you were signed out, so what you sent was not saved: sign in and send it again"
# The page a form is sent from, by the form's address (the pages send no Referer). Only
# what the address holds, since whoever holds a session cookie can read it: a case's
# form leads to the case (/cases/7), which finds its student once someone is signed in.
FORM_PAGES = (
    (re.compile(r"(/students/[^/]+)/(interventions|case|history-request)"), r"\1"),
    (re.compile(r"(/cases/\d+)/(review|close|notes)"), r"\1"),
    (re.compile(r"(/missing/\d+)"), r"\1"),
    (re.compile(r"/plan/(visits|capacity)"), "/plan"),
    (re.compile(r"/upload(/.*)?"), "/upload"),
)


def remember_the_page(request: Request) -> None:
    """Keep, for after sign-in, the page a signed-out person was going to: the page asked
    for; for a form sent after the session ended (a tab left open overnight), the page it
    was sent from, and a word for the sign-in page that it was not saved. The form's
    values are not kept here: they may be a child's, and nobody is signed in (the page's
    script keeps a typed note in the browser's tab for the same person, ``forms.js``)."""
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        target = path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = next((f.sub(page, path) for f, page in FORM_PAGES if f.fullmatch(path)), "")
        leave_word(request, "/login", NOT_SAVED)
    target = local_target(target, "")
    if target and not target.startswith(("/login", "/logout")):
        request.session[AFTER_SIGN_IN] = target


def page_after_sign_in(request: Request) -> str:
    """The page kept by ``remember_the_page``, else the person's home ("/")."""
    return local_target(str(request.session.get(AFTER_SIGN_IN, "")), "/")


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = language(request)
    # A check's message (a form error, a refused file) in the page's language.
    for key in ("error", "text"):
        if isinstance(context.get(key), str):
            context[key] = translate.in_language(context[key], lang)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request),
            **page_words(lang, context.get("scorer_kind")),
            **context,
        },
        status_code=status_code,
    )


def page_words(lang: str, scorer_kind: str | None = None) -> dict[str, Any]:
    """What every template says in words: the page's language, its labels and the words
    for tiers, changes, help, roles and the list's scorer."""
    words = i18n.words(lang)
    rule = scorer_kind == "abc_rule"
    return {
        "lang": lang,
        "t": words,
        "tier_word": lambda k: i18n.pick(i18n.TIERS, k, lang),
        "change_word": lambda k: i18n.pick(i18n.CHANGES, k, lang),
        "intervention_word": lambda k: i18n.pick(i18n.INTERVENTIONS, k, lang),
        "outcome_word": lambda k: i18n.pick(i18n.OUTCOMES, k, lang),
        "exit_word": lambda k: i18n.pick(i18n.EXITS, k, lang),
        "role_word": lambda k: i18n.pick(i18n.ROLES, k, lang),
        "scorer_word": lambda kind, version: i18n.scorer_label(kind, version, lang),
        "say": lambda message: translate.in_language(message, lang),
        "metric_word": lambda k: i18n.pick(i18n.METRICS, k, lang),
        "scorer_column": lambda k: i18n.pick(i18n.SCORER_COLUMNS, k, lang),
        "decision_word": lambda k: i18n.pick(i18n.DECISIONS, k, lang),
        "shape_word": lambda k: i18n.pick(i18n.SHAPES, k, lang),
        "group_word": lambda a, g: translate.group_word(a, g, lang),
        "fairness_flag": lambda f: translate.fairness_flag(f, lang),
        "feature_word": lambda f: i18n.feature_name(f, lang),
        "phase_word": lambda p: i18n.phase(p, lang),
        "lower_is_better": i18n.LOWER_IS_BETTER,
        # The rule's "risk" is the share of its three flags, not a probability.
        "risk_figure": lambda risk: (
            words["abc_flags"].format(int(risk * TOP_SCORE + 1e-9)) if rule else i18n.percent(risk)
        ),
    }


def not_found(request: Request, user: User | None) -> HTMLResponse:
    words = i18n.words(language(request))
    return render(
        request, "message.html", user, 404, heading=words["not_found"], text=words["not_found_text"]
    )


def error_page(request: Request, status: int, error: Exception) -> HTMLResponse:
    """A domain error on a page: not found, nothing scored yet, or a bad value; the header
    still the signed-in user's (their pages, and signing out)."""
    words = i18n.words(language(request))
    user = signed_in_user(request)
    if isinstance(error, records.NoWeeklyRun):
        return render(
            request, "message.html", user, status, heading=words["list"], text=words["no_run"]
        )
    if status == 404:
        return not_found(request, user)
    return render(
        request, "message.html", user, status, heading=words["not_found"], text=str(error)
    )


# A value of the address or form a page cannot take, said as the checks say it (English;
# ``translate`` gives the Thai): pydantic's error types, with their limits.
INVALID = {
    "greater_than_equal": "{field} must be at least {ge}",
    "less_than_equal": "{field} must be at most {le}",
    "int_parsing": "{field} must be a whole number",
    "string_too_long": "{field} may be at most {max_length} characters",
    "missing": "{field} is missing",
}


def invalid_request(request: Request, errors: list[dict[str, Any]]) -> HTMLResponse:
    """A page asked with a value it cannot take (a link edited by hand, an old bookmark):
    which value and why, in the page's language, never the value sent."""
    said = []
    for error in errors[:5]:
        field = str((error.get("loc") or ("?",))[-1])[:40]
        form = INVALID.get(str(error.get("type")), "{field} is not a value this page takes")
        said.append(form.format(field=field, **(error.get("ctx") or {})))
    words = i18n.words(language(request))
    text = "; ".join(dict.fromkeys(said))  # in the page's language by ``render``
    user = signed_in_user(request)
    return render(request, "message.html", user, 422, heading=words["bad_request"], text=text)


def http_error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """An HTTP error on a page (an address that is no page, a form sent after its page
    expired): a page in the user's language, with a way back to the page they came from."""
    user = signed_in_user(request)
    if status in (404, 405):  # no such page, or not one to open by its address
        return not_found(request, user)
    words = i18n.words(language(request))
    heading = words["form_expired"] if status == 403 else words["bad_request"]
    back = page_above(request)
    return render(request, "message.html", user, status, heading=heading, text=detail, back=back)


def page_above(request: Request) -> str:
    """The page a form was sent from, as near as its address tells (pages send no
    referrer): the address itself or the nearest above it that opens as a page
    (``/students/10050/interventions``: ``/students/10050``); the start page if none."""
    parts = request.url.path.rstrip("/").split("/")
    while len(parts) > 1:
        path = "/".join(parts)
        asked = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
        if any(r.matches(asked)[0] == Match.FULL for r in request.app.router.routes):
            return path
        parts.pop()
    return "/"


# Where each role starts.
HOME = {
    "advisor": "/list",
    "committee": "/list",
    "data_officer": "/upload",
    "area": "/area",
    "analyst": "/model",
    "admin": "/admin",
}


# Pages of one role or a few: anyone else is answered 404, as if the page did not exist.
AdminUser = Annotated[User, web_user_of("admin")]
AnalystUser = Annotated[User, web_user_of("analyst")]
AnalystCaller = Annotated[Caller, web_caller_of("analyst")]
AreaUser = Annotated[User, web_user_of(*area.AREA_ROLES)]
AreaCaller = Annotated[Caller, web_caller_of(*area.AREA_ROLES)]
UploadUser = Annotated[User, web_user_of(*uploads.UPLOAD_ROLES)]
AreaOfficeCaller = Annotated[Caller, web_caller_of("area")]
CommitteeCaller = Annotated[Caller, web_caller_of("committee")]
StudentCaller = Annotated[Caller, web_caller_of(*STUDENT_ROLES)]  # advisors and committees
# The missing children's worklist: its cases' roles, its counts' roles, and both.
CaseCaller = Annotated[Caller, web_caller_of(*worklist.CASE_ROLES)]
CountUser = Annotated[User, web_user_of(*worklist.COUNT_ROLES)]
WorklistCaller = Annotated[Caller, web_caller_of(*worklist.CASE_ROLES, *worklist.COUNT_ROLES)]
# An account chosen on a form ("" for none): digits a database integer holds.
AccountChoice = Annotated[str, Form(max_length=18, pattern=r"^\d*$")]


def attachment(body: bytes, name: str) -> Response:
    """A file to download (a CSV, a workbook or a PDF, by the end of its name), saved under
    ``name`` whatever its script."""
    return Response(
        body,
        media_type=MEDIA[Path(name).suffix],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
