"""Plots and the model card logged with every run (aggregates only: no student rows)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve

from training.evaluate import FOUND_WEEKS, list_places, precision_recall_at, top_share_places
from training.fairness import Audit, explain_flag

# Every plot is made in English and in Thai (``<name>.th.png``): the analyst's page shows
# the one of its language.
LANGUAGES = ("en", "th")
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "model": "LightGBM",
        "abc_rule": "ABC rule",
        "logistic": "Logistic regression",
        "base_rate": "base rate",
        "recall": "recall",
        "precision": "precision",
        "pr_title": "Precision-recall, test period",
        "perfect": "perfect",
        "predicted": "predicted risk",
        "observed": "observed share who left",
        "calibration_title": "Calibration, test period",
        "top_share": "top % of students flagged each week",
        "top_title": "Precision at the top",
        "shap_x": "mean |SHAP value| (log-odds)",
        "shap_title": "What drives the risk score (test period)",
    },
    "th": {
        "model": "LightGBM",
        "abc_rule": "เกณฑ์ ABC",
        "logistic": "ถดถอยโลจิสติก",
        "base_rate": "อัตราพื้นฐาน",
        "recall": "อัตราที่พบ (recall)",
        "precision": "ความแม่นยำ (precision)",
        "pr_title": "ความแม่นยำกับอัตราที่พบ ช่วงทดสอบ",
        "perfect": "ตรงพอดี",
        "predicted": "ความเสี่ยงที่ทำนาย",
        "observed": "สัดส่วนที่ออกจริง",
        "calibration_title": "การปรับเทียบความน่าจะเป็น ช่วงทดสอบ",
        "top_share": "ร้อยละของนักเรียนที่แจ้งเตือนแต่ละสัปดาห์ (ลำดับแรก)",
        "top_title": "ความแม่นยำของลำดับแรก",
        "shap_x": "ค่า SHAP สัมบูรณ์เฉลี่ย (log-odds)",
        "shap_title": "ปัจจัยที่มีผลต่อความเสี่ยงมากที่สุด (ช่วงทดสอบ)",
    },
}
# Fonts with Thai letters, the first found is used (Debian's fonts-thai-tlwg gives these).
SCORER_NAMES = {k: WORDS["en"][k] for k in ("model", "abc_rule", "logistic")}
THAI_FONTS = ("Loma", "Garuda", "Norasi", "Sarabun", "Noto Sans Thai", "Tlwg Typo")


def in_languages(plot: Callable[..., Path], *args: Any, path: Path) -> list[Path]:
    """``plot`` drawn once a language: ``path`` in English, ``<stem>.th.png`` in Thai."""
    return [
        plot(
            *args, path=path if language == "en" else path.with_suffix(".th.png"), language=language
        )
        for language in LANGUAGES
    ]


def plot_precision_recall(
    labels: np.ndarray, scores: dict[str, np.ndarray], path: Path, language: str = "en"
) -> Path:
    words = WORDS[language]
    figure, axis = _figure(6, 4.5)
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(labels, score)
        axis.plot(recall, precision, label=words.get(name, name))
    axis.axhline(labels.mean(), color="grey", linestyle=":", label=words["base_rate"])
    axis.set(xlabel=words["recall"], ylabel=words["precision"], title=words["pr_title"])
    axis.legend()
    return _save(figure, path, language)


def plot_calibration(
    labels: np.ndarray, scores: dict[str, np.ndarray], path: Path, language: str = "en"
) -> Path:
    words = WORDS[language]
    figure, axis = _figure(6, 4.5)
    top = 0.0
    for name, score in scores.items():
        observed, predicted = calibration_curve(labels, score, n_bins=10, strategy="quantile")
        axis.plot(predicted, observed, marker="o", label=words.get(name, name))
        top = max(top, predicted.max(), observed.max())
    axis.plot([0, top], [0, top], color="grey", linestyle=":", label=words["perfect"])
    axis.set(xlabel=words["predicted"], ylabel=words["observed"], title=words["calibration_title"])
    axis.legend()
    return _save(figure, path, language)


def plot_precision_at_k(
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    meta: pd.DataFrame,
    path: Path,
    language: str = "en",
) -> Path:
    words = WORDS[language]
    shares = np.linspace(0.01, 0.30, 30)
    figure, axis = _figure(6, 4.5)
    for name, score in scores.items():
        place, size = list_places(score, meta[["as_of"]])
        values = [
            precision_recall_at(labels, place <= top_share_places(share, size))[0]
            for share in shares
        ]
        axis.plot(shares * 100, values, label=words.get(name, name))
    axis.set(xlabel=words["top_share"], ylabel=words["precision"], title=words["top_title"])
    axis.legend()
    return _save(figure, path, language)


def plot_shap_summary(
    contributions: np.ndarray,
    features: list[str],
    path: Path,
    top: int = 15,
    language: str = "en",
) -> Path:
    """Mean |SHAP| per feature (exact TreeSHAP contributions of the raw score)."""
    from features.catalog import catalog

    words, specs = WORDS[language], catalog()
    names = [
        (specs[f].name_th if language == "th" else specs[f].name_en) if f in specs else f
        for f in features
    ]
    importance = np.abs(contributions).mean(axis=0)
    order = np.argsort(importance)[-top:]
    figure, axis = _figure(7, 5)
    axis.barh([names[i] for i in order], importance[order])
    axis.set(xlabel=words["shap_x"], title=words["shap_title"])
    return _save(figure, path, language)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure drawn off-screen: no pyplot, no global backend, nothing at import time."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


@lru_cache(maxsize=1)
def _thai_family() -> str | None:
    """The first of ``THAI_FONTS`` installed. Matplotlib keeps the list of the system's
    fonts it made on its first run: a font installed since (fonts-thai-tlwg after a first
    model card drawn in boxes, say) is added here from the system's font folders."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    family = _first_thai(manager)
    if family is None:
        known = {font.fname for font in manager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                with suppress(OSError, RuntimeError, ValueError):  # a file it cannot read
                    manager.addfont(path)
        family = _first_thai(manager)
    return family


def _first_thai(manager: Any) -> str | None:
    installed = {font.name for font in manager.ttflist}
    return next((name for name in THAI_FONTS if name in installed), None)


def _save(figure: Figure, path: Path, language: str = "en") -> Path:
    """Save the figure; in Thai, its texts in a font with Thai letters; in English, a
    Thai letter that an English name keeps (the "ร" of "Incomplete (ร) marks") in it
    too."""
    family = _thai_family()
    if family is None:
        fonts = None
    elif language == "th":
        fonts = [family, "DejaVu Sans"]
    else:
        fonts = ["DejaVu Sans", family]
    if fonts:
        for text in figure.findobj(Text):
            text.set_fontfamily(fonts)
    # Tick labels are made as the figure is drawn: they take the font from here.
    with rc_context({"font.family": fonts} if fonts else {}):
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    return path


def plot_search(curves: dict[str, np.ndarray], trees: int, path: Path) -> Path:
    """Mean validation average precision over the folds against trees, by shape."""
    from training.model import CURVE_STEP

    figure, axis = _figure(6, 4.5)
    for name, curve in curves.items():
        axis.plot(np.arange(1, len(curve) + 1) * CURVE_STEP, curve, label=name)
    axis.axvline(trees, color="grey", linestyle=":", label=f"chosen: {trees} trees")
    axis.set(
        xlabel="trees",
        ylabel="mean average precision on the folds",
        title="Choice of shape and trees (rolling-origin folds)",
    )
    axis.legend()
    return _save(figure, path)


def model_card(context: dict[str, Any]) -> str:
    """The model card in Markdown: purpose, data, choice, metrics against baselines with
    intervals, calibration, guards, fairness, limits."""
    metrics: pd.DataFrame = context["metrics"]
    audit: Audit = context["fairness"]
    split = context["split"]
    shown = [
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_at_capacity_school",
        "recall_at_capacity_school",
        "found_4w",
        "found_8w",
        "median_lead_weeks",
        "precision_at_10_school",
        "recall_at_10_school",
        "precision_at_10",
        "recall_at_10",
    ]
    table = metrics.loc[[m for m in shown if m in metrics.index]].rename(columns=SCORER_NAMES)
    base_rate = cast(float, metrics.at["base_rate", "model"])
    explain_us = context.get("explain_us_per_student", float("nan"))
    intervals = context.get("intervals", {})
    problems = context.get("problems", [])
    rows = context["rows"]
    lines = [
        f"# Model card: dropout-risk (run {context['run_id']})",
        "",
        "## Purpose",
        "Ranks enrolled students each week by their risk of leaving school within "
        f"{context['horizon_days']} days, so that class advisors and care committees can act "
        "early. It supports, and never replaces, the student care system's judgement.",
        "",
        "## Data and validation",
        f"- The evaluation model learned from as-of dates {split['train_from']} to "
        f"{split['train_until']}, only from outcomes known before the test period "
        f"{split['test_from']} to {split['test_until']}; the served model is refit on every "
        f"mature row up to {split['refit_until']}.",
        f"- Rows: evaluation {rows['train']:,}, test {rows['test']:,}, refit {rows['refit']:,}; "
        f"share who left in the test period {base_rate:.3%}.",
        f"- Rolling-origin folds (each fitted only on outcomes known before it): {split['folds']}.",
        *[f"- **Note:** {note}." for note in context.get("notes", [])],
        f"- {len(context['features'])} inputs; protected attributes used as inputs: "
        f"{'yes' if context['use_sensitive'] else 'no'}.",
        f"- Chosen on the folds: the {context.get('shape', '?')} shape with "
        f"{context.get('trees', '?')} trees ({context.get('chosen_by', '?')}).",
        "",
    ]
    folds = context.get("folds")
    if folds is not None and len(folds):
        lines += ["### Scores on the folds (mean and spread)", "", markdown_table(folds), ""]
    lines += [
        "## Test metrics against the baselines",
        "",
        'All three are fitted on the same rows and calibrated the same way. "at capacity": '
        "each school's weekly home-visit capacity. **Found in time** (the headline): the "
        "test period's weekly home-visit plans replayed, each school visiting its capacity "
        "a week in the list's order and leaving out whom it visited in the last 30 days, "
        "as the service's plan does; of the students who left, the share visited at least "
        "4 (`found_4w`) and 8 (`found_8w`) weeks before leaving, and the median weeks from "
        "the first visit to leaving (`median_lead_weeks`, 0 when never visited before).",
        "",
        markdown_table(table),
        "",
    ]
    if intervals:
        lines += [
            "Intervals (95%, bootstrap over students):",
            "",
            *[f"- {name}: {interval}" for name, interval in intervals.items()],
            "",
        ]
    calibration = context.get("calibration")
    if calibration is not None and len(calibration):
        lines += [
            "## Calibration on the test period",
            "",
            'Observed against expected leavers (a ratio near 1: "30% risk" meant about 3 in 10).',
            "",
            markdown_table(calibration.set_index("group")),
            "",
        ]
    lines += [
        "## Guards",
        "",
        *(
            [f"- {p}" for p in problems]
            or ["- None: the model ranks students better than its baselines and spreads its risks."]
        ),
        "",
        fairness_markdown(audit),
        "",
        "## Limits",
        "- Trained on the data it was given; synthetic data shows the pipeline works, not that "
        "the model is valid for a real school system.",
        "- Migrant children who leave by moving often show little warning in school records; "
        "recall for them is audited above and is expected to be lower.",
        "- A score is a prompt to look, not a verdict: reasons name the student's own records.",
        f"- Explanation cost: {explain_us:.1f} µs per student.",
    ]
    return "\n".join(lines) + "\n"


def fairness_markdown(audit: Audit) -> str:
    """The fairness section: found in time, the within-level audit with each flag
    explained in Thai and English, and the level comparison."""
    found = audit.found_in_time.copy()
    for weeks in FOUND_WEEKS:
        found[f"found {weeks}+ weeks before"] = [
            f"{r[f'found_{weeks}w']}/{r['left']} (too few to judge)"
            if r["too_few"]
            else _share(r[f"share_found_{weeks}w"], r[f"low_{weeks}w"], r[f"high_{weeks}w"])
            for r in found.to_dict("records")
        ]
    found["median lead (weeks)"] = [
        f"{lead:.1f}" if np.isfinite(lead) else "–"
        for lead in found["median_lead_weeks"].to_numpy(dtype=float)
    ]
    found["helped, of those found"] = [f"{r.helped}/{r.found}" for r in found.itertuples()]
    groups = audit.groups
    shown = groups[["attribute", "group", "students", "left", "flagged", "status"]].copy()
    for metric in ("recall", "fpr", "precision"):
        shown[f"{metric} ratio"] = [
            f"{r[f'{metric}_ratio']:.2f} [{r[f'{metric}_low']:.2f}, {r[f'{metric}_high']:.2f}]"
            if f"{metric}_ratio" in r
            and pd.notna(r.get(f"{metric}_ratio"))
            and pd.notna(r.get(f"{metric}_low"))
            else "–"
            for _, r in groups.iterrows()
        ]
    flagged = groups[groups["status"] == "flag"]
    explained = [
        f"- {explain_flag(row, 'en')}\n  {explain_flag(row, 'th')}" for _, row in flagged.iterrows()
    ]
    lines = [
        "## Fairness: whom the lists find (students, not rows)",
        "",
        "### Found in time by group: among students who left, the share that the weekly "
        "home-visit plans (each school at its capacity, as the headline) took at least 4 "
        "and 8 weeks before leaving, with 95% intervals over students",
        "",
        markdown_table(
            found.set_index("attribute")[
                [
                    "group",
                    "left",
                    *(f"found {weeks}+ weeks before" for weeks in FOUND_WEEKS),
                    "median lead (weeks)",
                    "helped, of those found",
                ]
            ]
        ),
        "",
        "### Groups against their reference group, within the same school levels (the top "
        "10% of each school weekly)",
        "",
        "Ratios are observed over expected from the reference group's rates at each level, "
        "with 95% intervals over students; a group is flagged only when a whole interval "
        "lies outside 0.8–1.25.",
        "",
        markdown_table(shown.set_index("attribute")),
        "",
        "Flags explained:" if explained else "No group is flagged.",
        *explained,
        "",
        "### Levels compared (base rates differ by level: reported, not judged)",
        "",
        markdown_table(audit.levels.drop(columns="note").set_index("level")),
    ]
    return "\n".join(lines)


def _share(share: float, low: float, high: float) -> str:
    if not np.isfinite(share):
        return "–"
    if not np.isfinite(low):
        return f"{share:.0%}"
    return f"{share:.0%} [{low:.0%}, {high:.0%}]"


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table of a frame with its index as the first column; a column of whole
    numbers (counts) is written as whole numbers."""
    header = ["", *map(str, frame.columns)]
    rows = [
        [str(index), *(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in values)]
        # Column by column: a row of counts and shares would make every value a float.
        for index, values in zip(frame.index, frame.astype(object).to_numpy(), strict=True)
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
