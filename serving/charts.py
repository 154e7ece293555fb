"""Small server-rendered SVG charts: no JavaScript, readable on a phone."""

from __future__ import annotations

from datetime import date
from html import escape

from markupsafe import Markup

from features.catalog import FeatureSpec
from serving.i18n import day, percent
from serving.schemas import Contribution, HistoryPoint, TrendPoint

# Weeks further apart than this are not joined by the line: the gap shows.
GAP = 21


def risk_history(
    points: list[HistoryPoint],
    language: str = "th",
    marks: list[tuple[date, str]] | None = None,
    width: int = 320,
    height: int = 118,
) -> Markup:
    """Risk per weekly run on a date axis: a dot per week, joined within runs of weeks
    (a holiday or a term break leaves a gap), and a dashed line at each of ``marks``
    (an action, a plan's start: date and label)."""
    if not points:
        return Markup("")
    # Room above the highest week, never above 100%: a risk is a probability.
    top = min(1.0, max(0.2, max(p.risk for p in points) * 1.15))
    left, right, bottom, upper = 34, width - 8, height - 26, 8
    first = points[0].as_of
    # The axis reaches the latest mark too: a plan begun since the last list shows.
    last = max([points[-1].as_of, *(when for when, _ in marks or [] if when >= first)])
    days = max((last - first).days, 1)

    def x(when: date) -> float:
        if last == first:
            return (left + right) / 2
        return left + (right - left) * (when - first).days / days

    def y(value: float) -> float:
        return bottom - (bottom - upper) * value / top

    runs: list[list[HistoryPoint]] = []
    for point in points:
        if runs and (point.as_of - runs[-1][-1].as_of).days <= GAP:
            runs[-1].append(point)
        else:
            runs.append([point])
    lines = "".join(
        f'<polyline points="{" ".join(f"{x(p.as_of):.1f},{y(p.risk):.1f}" for p in run)}" '
        f'class="risk-line"/>'
        for run in runs
        if len(run) > 1
    )
    dots = "".join(
        f'<circle cx="{x(p.as_of):.1f}" cy="{y(p.risk):.1f}" r="3"><title>'
        f"{escape(day(p.as_of, language))}: {escape(percent(p.risk))}</title></circle>"
        for p in points
    )
    flags = "".join(
        f'<line x1="{x(when):.1f}" y1="{upper}" x2="{x(when):.1f}" y2="{bottom}" class="mark">'
        f"<title>{escape(day(when, language))}: {escape(label)}</title></line>"
        for when, label in (marks or [])
        if first <= when <= last
    )
    labels = (
        f'<text x="2" y="{upper + 8}" class="axis">{top:.0%}</text>'
        f'<text x="2" y="{bottom}" class="axis">0%</text>'
        f'<text x="{left}" y="{height - 10}" class="axis">{escape(day(first, language))}</text>'
        f'<text x="{right}" y="{height - 10}" class="axis" text-anchor="end">'
        f"{escape(day(last, language))}</text>"
    )
    # Dates and labels are escaped; everything else is a number.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="risk history">'
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" class="base"/>'
        f"{flags}{lines}{dots}{labels}</svg>"
    )


def contributions(
    items: list[Contribution],
    catalog: dict[str, FeatureSpec],
    language: str,
    top: int = 8,
    context_label: str = "",
) -> Markup:
    """The largest contributions, one row each: the reason in words with the student's
    own value where the reason is true of it, else the feature and its value stated
    plainly; then a bar from the middle, right and red when it pushes the risk up, left
    and green when it pulls it down. What a school cannot act on (the grade level, the
    school's past, the child's moves) is one row, ``context_label``, summed.

    The words are HTML and wrap at any width; the bar is a separate small SVG below
    them, so no label ever runs into a bar, on a phone or a wide screen.
    """
    known = [c for c in items if c.feature in catalog and not catalog[c.feature].sensitive]
    shown = [c for c in known if catalog[c.feature].actionable and c.shap != 0]
    context = sum(c.shap for c in known if not catalog[c.feature].actionable)
    bars: list[tuple[str, float]] = []
    for item in sorted(shown, key=lambda c: abs(c.shap), reverse=True)[:top]:
        spec = catalog[item.feature]
        value = item.value
        holds = spec.holds(value)
        text = spec.reason({item.feature: value, **_values(items)}, language)
        bars.append((text if holds else spec.statement(value, language), item.shap))
    if context_label and abs(context) > 1e-12:
        bars.append((context_label, context))
    if not bars:
        return Markup("")
    biggest = max(abs(shap) for _, shap in bars)
    rows = []
    for text, shap in bars:
        length = 96 * abs(shap) / biggest
        x = 100 if shap > 0 else 100 - length
        kind = "up" if shap > 0 else "down"
        arrow = "▲" if shap > 0 else "▼"
        rows.append(
            f'<li class="contribution {kind}"><span class="reason">'
            f'<span class="arrow" aria-hidden="true">{arrow}</span> {escape(text)}</span>'
            f'<svg class="cbar" viewBox="0 0 200 8" preserveAspectRatio="none" aria-hidden="true">'
            f'<line x1="100" y1="0" x2="100" y2="8" class="base"/>'
            f'<rect x="{x:.1f}" y="1" width="{max(length, 1):.1f}" height="6" class="{kind}">'
            f"<title>{shap:+.3f}</title></rect></svg></li>"
        )
    # Reasons are escaped above; everything else is a number.
    return Markup(  # noqa: S704
        f'<ol class="contributions" aria-label="contributions">{"".join(rows)}</ol>'
    )


def _values(items: list[Contribution]) -> dict[str, float | None]:
    return {c.feature: c.value for c in items}


def trend(points: list[TrendPoint], width: int = 120, height: int = 28) -> Markup:
    """A school's weekly count on the list (high and watch) as a small line."""
    if len(points) < 2:
        return Markup("")
    counts = [p.high + p.watch for p in points]
    top = max(max(counts), 1)
    step = (width - 4) / (len(points) - 1)
    xy = [(2 + i * step, height - 3 - (height - 6) * c / top) for i, c in enumerate(counts)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    label = " · ".join(f"{p.as_of}: {c}" for p, c in zip(points, counts, strict=True))
    # Only numbers and dates go into the markup.
    return Markup(  # noqa: S704
        f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}"><title>{label}</title>'
        f'<polyline points="{line}" class="risk-line"/>'
        f'<circle cx="{xy[-1][0]:.1f}" cy="{xy[-1][1]:.1f}" r="2.5"/></svg>'
    )
