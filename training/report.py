"""Plots and the model card logged with every run (aggregates only: no student rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve

from training.evaluate import flag_top, precision_recall_at

SCORER_NAMES = {"model": "LightGBM", "abc_rule": "ABC rule", "logistic": "Logistic regression"}


def plot_precision_recall(labels: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    figure, axis = _figure(6, 4.5)
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(labels, score)
        axis.plot(recall, precision, label=SCORER_NAMES.get(name, name))
    axis.axhline(labels.mean(), color="grey", linestyle=":", label="base rate")
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall, test period")
    axis.legend()
    return _save(figure, path)


def plot_calibration(labels: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    figure, axis = _figure(6, 4.5)
    top = 0.0
    for name, score in scores.items():
        observed, predicted = calibration_curve(labels, score, n_bins=10, strategy="quantile")
        axis.plot(predicted, observed, marker="o", label=SCORER_NAMES.get(name, name))
        top = max(top, predicted.max(), observed.max())
    axis.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    axis.set(
        xlabel="predicted risk", ylabel="observed share who left", title="Calibration, test period"
    )
    axis.legend()
    return _save(figure, path)


def plot_precision_at_k(
    labels: np.ndarray, scores: dict[str, np.ndarray], meta: pd.DataFrame, path: Path
) -> Path:
    shares = np.linspace(0.01, 0.30, 30)
    figure, axis = _figure(6, 4.5)
    for name, score in scores.items():
        values = [
            precision_recall_at(labels, flag_top(score, meta[["as_of"]], s))[0] for s in shares
        ]
        axis.plot(shares * 100, values, label=SCORER_NAMES.get(name, name))
    axis.set(
        xlabel="top % of students flagged each week",
        ylabel="precision",
        title="Precision at the top",
    )
    axis.legend()
    return _save(figure, path)


def plot_shap_summary(
    contributions: np.ndarray, features: list[str], path: Path, top: int = 15
) -> Path:
    """Mean |SHAP| per feature (exact TreeSHAP contributions of the raw score)."""
    importance = np.abs(contributions).mean(axis=0)
    order = np.argsort(importance)[-top:]
    figure, axis = _figure(7, 5)
    axis.barh([features[i] for i in order], importance[order])
    axis.set(
        xlabel="mean |SHAP value| (log-odds)", title="What drives the risk score (test period)"
    )
    return _save(figure, path)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure drawn off-screen: no pyplot, no global backend, nothing at import time."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def model_card(context: dict[str, Any]) -> str:
    """The model card in Markdown: purpose, data, metrics against baselines, fairness, limits."""
    metrics: pd.DataFrame = context["metrics"]
    audit: pd.DataFrame = context["fairness"]
    split = context["split"]
    shown = [
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_at_5",
        "precision_at_10",
        "precision_at_20",
        "recall_at_10",
        "precision_at_10_school",
    ]
    table = metrics.loc[[m for m in shown if m in metrics.index]].rename(columns=SCORER_NAMES)
    small = audit[audit["status"] == "too small"]
    base_rate = cast(float, metrics.at["base_rate", "model"])
    too_small = ", ".join(f"{r.attribute}={r.group}" for r in small.itertuples()) or "none"
    explain_us = context.get("explain_us_per_student", float("nan"))
    lines = [
        f"# Model card: dropout-risk (run {context['run_id']})",
        "",
        "## Purpose",
        "Ranks enrolled students each week by their risk of leaving school within "
        f"{context['horizon_days']} days, so that class advisors and care committees can act "
        "early. It supports, and never replaces, the student care system's judgement.",
        "",
        "## Data",
        f"- Training as-of dates {split['train_from']} to {split['train_until']} "
        f"(validation from {split['valid_from']}); "
        f"test {split['test_from']} to {split['test_until']}.",
        f"- Rows: train {context['rows']['train']:,}, validation {context['rows']['valid']:,}, "
        f"test {context['rows']['test']:,}; positive share in test {base_rate:.3%}.",
        f"- {len(context['features'])} inputs; protected attributes used as inputs: "
        f"{'yes' if context['use_sensitive'] else 'no'}.",
        "",
        "## Test metrics against the baselines",
        "",
        markdown_table(table),
        "",
        "## Fairness (top 10% each week)",
        f"- Flagged groups: {', '.join(context['fairness_flags']) or 'none'}.",
        f"- Too small to judge: {too_small}.",
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


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table of a frame with its index as the first column."""
    header = ["", *map(str, frame.columns)]
    rows = [
        [str(index), *(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in values)]
        for index, values in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
