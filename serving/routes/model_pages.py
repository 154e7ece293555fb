"""The analyst's pages: the model, its plots, the benefit order, and the lists against
what happened."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving import i18n, records, reports
from serving.accounts import User
from serving.deps import (
    AppState,
    StateDep,
    WebUser,
)
from serving.routes.pages import (
    AnalystCaller,
    AnalystUser,
    check_csrf,
    language,
    not_found,
    render,
)

router = APIRouter(include_in_schema=False)


@router.get("/model", response_class=HTMLResponse)
def model_page(request: Request, state: StateDep, user: AnalystUser) -> HTMLResponse:
    """Champion and challenger side by side, fairness, drift, effects and promotions, and
    the per-school switch of the benefit order; no student."""
    return _model_page(request, state, user)


def _model_page(
    request: Request,
    state: AppState,
    user: User,
    benefit_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The model page, with what was wrong in the analyst's last change if anything (never
    from the address: a link must not put words or a status of its own on the page)."""
    if state.reports is None:
        return not_found(request, user)
    report = state.reports.report()
    champion = report.champion
    fairness = state.reports.fairness(champion.run_id) if champion is not None else None
    found = state.reports.found_in_time(champion.run_id) if champion is not None else None
    effects, effects_made = state.reports.effects()
    benefit, benefit_why = state.reports.visit_benefit(fresh=True)
    versions = [v for v in (report.champion, report.challenger) if v is not None]
    return render(
        request,
        "model.html",
        user,
        status_code,
        report=report,
        effects=effects.to_dict("records"),
        effects_made=effects_made,
        benefit=benefit,
        benefit_why=benefit_why,
        benefit_error=benefit_error,
        order_schools=reports.plan_order_schools(state.engine),
        versions=versions,
        flag_notes={v.version: state.reports.flag_notes(v.run_id) for v in versions},
        fairness=fairness.to_dict("records") if fairness is not None else [],
        found_by_group=found.to_dict("records") if found is not None else [],
        drift=reports.latest_drift(state.engine),
        plots=PLOT_TITLES,
        drift_word=lambda k: i18n.pick(i18n.DRIFT, k, language(request)),
        fairness_word=lambda k: i18n.pick(i18n.FAIRNESS, k, language(request)),
    )


@router.post("/model/benefit-order")
def benefit_order(
    request: Request,
    state: StateDep,
    caller: AnalystCaller,
    csrf: Annotated[str, Form()],
    school_id: Annotated[str, Form()],
    on: Annotated[str, Form()],
) -> Response:
    """An analyst turns a school's benefit order on or off."""
    check_csrf(request, csrf)
    if state.reports is None:
        return not_found(request, caller.user)
    available = state.visit_benefit() is not None
    try:
        records.set_benefit_order(
            state.engine,
            caller,
            school_id,
            on == "true",
            available=available,
        )
    except records.InvalidInput as error:
        return _model_page(request, state, caller.user, str(error), 422)
    return RedirectResponse("/model", status_code=303)


PLOT_TITLES = {
    "calibration.png": ("การปรับเทียบความน่าจะเป็น", "Calibration"),
    "precision_at_k.png": ("ความแม่นยำของลำดับแรก", "Precision at the top"),
}


@router.get("/model/plots/{version}/{name}")
def model_plot(
    request: Request, version: str, name: str, state: StateDep, user: AnalystUser
) -> Response:
    """A plot of the champion's or the challenger's training run."""
    if state.reports is None:
        return not_found(request, user)
    report = state.reports.report()
    runs = {v.version: v.run_id for v in (report.champion, report.challenger) if v is not None}
    plot = None
    if version in runs and name.endswith(".png"):
        # The plot in the page's language, when the run made one.
        if language(request) == "th":
            plot = state.reports.file(runs[version], name.replace(".png", ".th.png"))
        plot = plot or state.reports.file(runs[version], name)
    if plot is None:
        return not_found(request, user)
    return Response(plot, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


@router.get("/outcomes", response_class=HTMLResponse)
def outcomes_page(request: Request, state: StateDep, user: WebUser) -> HTMLResponse:
    """Past lists against what happened: a committee its school, an analyst every school."""
    found = reports.outcomes(state.engine, user)
    if found is None:
        return not_found(request, user)
    return render(request, "outcomes.html", user, outcomes=found)


# ------------------------------------------------------------------------- the admin's page
