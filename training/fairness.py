"""The fairness audit: recall, false-positive rate and precision at the top share, by group.

Groups: sex, nationality (Thai / other), disability, poverty (equity status) and level.
Each group is compared with its attribute's reference group (the largest). A ratio
outside [low, high] is flagged when the group has enough students flagged and enough who
left; smaller groups are marked too small rather than judged.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from training.config import FairnessConfig
from training.evaluate import flag_top

METRICS = ("recall", "fpr", "precision")
# The group each attribute is compared with; the largest group where none is named.
REFERENCE = {"nationality": "Thai", "disability": "none", "poverty": "none"}


def audit_groups(rows: pd.DataFrame) -> pd.DataFrame:
    """The audited attributes of each row, as readable group names."""
    level = rows["grade_level"].astype(str)
    band = np.select(
        [level.str[0].isin(["K", "P"]), level.isin(["M1", "M2", "M3"]), level.str[0] == "M"],
        ["pre-primary/primary", "lower secondary", "upper secondary"],
        "vocational",
    )
    disability = rows["disability"].fillna("unknown")
    return pd.DataFrame(
        {
            "sex": rows["sex"].fillna("unknown"),
            "nationality": np.where(rows["nationality"] == "TH", "Thai", "other"),
            "disability": np.where(
                disability == "none", "none", np.where(disability == "unknown", "unknown", "any")
            ),
            "poverty": rows["equity_status"].fillna("not surveyed"),
            "level": band,
        },
        index=rows.index,
    )


def fairness_audit(
    rows: pd.DataFrame, labels: np.ndarray, scores: np.ndarray, config: FairnessConfig
) -> pd.DataFrame:
    """One row per (attribute, group) with rates, ratios to the reference and a status."""
    flagged = flag_top(scores, rows[["as_of"]], config.top_share)
    groups = audit_groups(rows)
    frames = []
    for attribute in groups.columns:
        table = _rates(groups[attribute].to_numpy(), labels, flagged)
        named = REFERENCE.get(attribute)
        reference = str(named if named in table.index else table["students"].idxmax())
        for metric in METRICS:
            table[f"{metric}_ratio"] = _ratio(
                table[metric], cast(float, table.at[reference, metric])
            )
        enough = (table["flagged"] >= config.min_flagged) & (
            table["positives"] >= config.min_positives
        )
        off = pd.DataFrame(
            {
                m: (table[f"{m}_ratio"] < config.low) | (table[f"{m}_ratio"] > config.high)
                for m in METRICS
            }
        )
        table["status"] = np.where(
            table.index == reference,
            "reference",
            np.where(~enough, "too small", np.where(off.any(axis=1), "flag", "ok")),
        )
        table["flagged_metrics"] = [
            ",".join(m for m in METRICS if off.at[group, m]) if status == "flag" else ""
            for group, status in table["status"].items()
        ]
        frames.append(
            table.reset_index().rename(columns={"index": "group"}).assign(attribute=attribute)
        )
    columns = [
        "attribute",
        "group",
        "students",
        "positives",
        "flagged",
        *METRICS,
        *(f"{m}_ratio" for m in METRICS),
        "status",
        "flagged_metrics",
    ]
    return pd.concat(frames, ignore_index=True)[columns]


def _ratio(values: pd.Series, reference: float) -> pd.Series:
    """Rate over the reference rate; equal zero rates are a ratio of 1, not undefined."""
    if reference == 0:
        return pd.Series(np.where(values == 0, 1.0, np.inf), index=values.index).where(
            values.notna()
        )
    return values / reference


def _rates(group: np.ndarray, labels: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"group": group, "y": labels, "f": flagged})
    frame["tp"] = frame["y"] & frame["f"]
    frame["fp"] = ~frame["y"].astype(bool) & frame["f"]
    table = frame.groupby("group").agg(
        students=("y", "size"),
        positives=("y", "sum"),
        flagged=("f", "sum"),
        tp=("tp", "sum"),
        fp=("fp", "sum"),
    )
    negatives = table["students"] - table["positives"]
    table["recall"] = table["tp"] / table["positives"].where(table["positives"] > 0)
    table["fpr"] = table["fp"] / negatives.where(negatives > 0)
    table["precision"] = table["tp"] / table["flagged"].where(table["flagged"] > 0)
    table.index.name = None
    return table.drop(columns=["tp", "fp"])


def flags(audit: pd.DataFrame) -> list[str]:
    """Flagged groups as ``attribute=group (metrics)`` strings."""
    flagged = audit[audit["status"] == "flag"]
    return [f"{r.attribute}={r.group} ({r.flagged_metrics})" for r in flagged.itertuples()]
