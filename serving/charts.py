"""Small server-rendered SVG charts: no JavaScript, readable on a phone."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from features.catalog import FeatureSpec
from serving.schemas import Contribution, HistoryPoint, TrendPoint


def risk_history(points: list[HistoryPoint], width: int = 320, height: int = 110) -> Markup:
    """Risk per weekly run as a line with a dot per week."""
    if not points:
        return Markup("")
    top = max(0.2, max(p.risk for p in points) * 1.15)
    left, right, bottom, upper = 34, width - 8, height - 18, 8
    step = (right - left) / max(1, len(points) - 1)

    def y(value: float) -> float:
        return bottom - (bottom - upper) * value / top

    xy = [
        (left + i * step if len(points) > 1 else (left + right) / 2, y(p.risk))
        for i, p in enumerate(points)
    ]
    line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in xy)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3"><title>{p.as_of}: {p.risk:.0%}</title></circle>'
        for (x, yy), p in zip(xy, points, strict=True)
    )
    labels = (
        f'<text x="2" y="{upper + 8}" class="axis">{top:.0%}</text>'
        f'<text x="2" y="{bottom}" class="axis">0%</text>'
        f'<text x="{left}" y="{height - 4}" class="axis">{points[0].as_of}</text>'
        f'<text x="{right}" y="{height - 4}" class="axis" text-anchor="end">'
        f"{points[-1].as_of}</text>"
    )
    # Only numbers and dates go into the markup.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="risk history">'
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" class="base"/>'
        f'<polyline points="{line}" class="risk-line"/>{dots}{labels}</svg>'
    )


def contributions(
    items: list[Contribution],
    catalog: dict[str, FeatureSpec],
    language: str,
    top: int = 8,
) -> Markup:
    """The largest contributions, one row each: the reason in words with the student's
    own value, then a bar from the middle, right and red when it pushes the risk up,
    left and green when it pulls it down.

    The words are HTML and wrap at any width; the bar is a separate small SVG below
    them, so no label ever runs into a bar, on a phone or a wide screen.
    """
    shown = [
        c
        for c in items
        if c.feature in catalog and not catalog[c.feature].sensitive and c.shap != 0
    ]
    shown = sorted(shown, key=lambda c: abs(c.shap), reverse=True)[:top]
    if not shown:
        return Markup("")
    values = {c.feature: c.value for c in items}
    biggest = max(abs(c.shap) for c in shown)
    rows = []
    for item in shown:
        text = catalog[item.feature].reason(values, language)
        length = 96 * abs(item.shap) / biggest
        x = 100 if item.shap > 0 else 100 - length
        kind = "up" if item.shap > 0 else "down"
        arrow = "▲" if item.shap > 0 else "▼"
        rows.append(
            f'<li class="contribution {kind}"><span class="reason">'
            f'<span class="arrow" aria-hidden="true">{arrow}</span> {escape(text)}</span>'
            f'<svg class="cbar" viewBox="0 0 200 8" preserveAspectRatio="none" aria-hidden="true">'
            f'<line x1="100" y1="0" x2="100" y2="8" class="base"/>'
            f'<rect x="{x:.1f}" y="1" width="{max(length, 1):.1f}" height="6" class="{kind}">'
            f"<title>{item.shap:+.3f}</title></rect></svg></li>"
        )
    # Reasons are escaped above; everything else is a number.
    return Markup(  # noqa: S704
        f'<ol class="contributions" aria-label="contributions">{"".join(rows)}</ol>'
    )


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
