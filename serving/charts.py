"""Small server-rendered SVG charts: no JavaScript, readable on a phone."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from features.catalog import FeatureSpec
from serving.schemas import Contribution, HistoryPoint


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
    width: int = 340,
) -> Markup:
    """Horizontal bars of the largest contributions: up (red) and down (green)."""
    shown = [
        c
        for c in items
        if c.feature in catalog and not catalog[c.feature].sensitive and c.shap != 0
    ]
    shown = sorted(shown, key=lambda c: abs(c.shap), reverse=True)[:top]
    if not shown:
        return Markup("")
    biggest = max(abs(c.shap) for c in shown)
    row, middle = 30, width / 2
    parts = []
    for i, item in enumerate(shown):
        spec = catalog[item.feature]
        name = spec.name_th if language == "th" else spec.name_en
        length = (middle - 10) * abs(item.shap) / biggest
        x = middle if item.shap > 0 else middle - length
        kind = "up" if item.shap > 0 else "down"
        y = i * row
        parts.append(
            f'<text x="4" y="{y + 11}" class="label">{escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{y + 14}" width="{max(length, 1):.1f}" height="10" '
            f'class="{kind}">'
            f"<title>{item.shap:+.3f}</title></rect>"
        )
    height = len(shown) * row
    # Feature names are escaped above; everything else is a number.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="contributions">'
        f'<line x1="{middle}" y1="0" x2="{middle}" y2="{height}" class="base"/>'
        f"{''.join(parts)}</svg>"
    )
