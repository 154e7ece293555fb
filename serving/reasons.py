"""Top reasons in Thai and English from a student's own values, and the next step to take."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from features.catalog import FeatureSpec

TOP_REASONS = 3
# The next step for a student's main reason (SPEC section 6), by catalog theme.
STEPS: dict[str, tuple[str, str]] = {
    "attendance": ("โทรติดต่อผู้ปกครองและวางแผนเยี่ยมบ้าน", "contact the parents and plan a home visit"),
    "poverty": ("ส่งต่อทุนเสมอภาค (กสศ.) หรือทุนการศึกษา", "refer to the equity fund or a scholarship"),
    "grades": ("จัดสอนเสริมและติดตามงานที่ค้าง", "arrange tutoring and follow up missing work"),
    "screening": ("ส่งพบครูแนะแนวเพื่อให้คำปรึกษา", "refer to the school counsellor"),
    "emotional": ("ส่งพบครูแนะแนวเพื่อให้คำปรึกษา", "refer to the school counsellor"),
    "protection": ("ส่งต่อหน่วยงานคุ้มครองเด็กภายนอก", "make an external child-protection referral"),
    "family": ("นัดพบผู้ปกครอง", "meet the parents"),
    "travel": ("หาทางช่วยเหลือเรื่องการเดินทาง", "help with transport to school"),
    "transition": ("ติดตามการศึกษาต่อในระดับถัดไป", "follow up enrolment in the next level"),
}


def adverse(spec: FeatureSpec, value: float, median: float | None) -> bool:
    """Whether a value is on the risky side of the training median, by the known direction.

    A feature pushes risk up through interactions even when its own value is ordinary
    ("absence changed by +0%"); such a value is no reason to give an advisor.
    """
    if median is None or spec.monotone == 0:
        return True
    return value > median if spec.monotone > 0 else value < median


def top_reasons(
    values: Mapping[str, Any],
    contributions: np.ndarray,
    features: list[str],
    catalog: dict[str, FeatureSpec],
    limit: int = TOP_REASONS,
    medians: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The features pushing this student's risk up most that an advisor can act on.

    Protected attributes and context an advisor cannot change are never shown; a
    feature without a recorded value, or with an ordinary one, is not a reason.
    """
    order = np.argsort(-contributions, kind="stable")
    reasons: list[dict[str, Any]] = []
    for index in order:
        shap = float(contributions[index])
        if shap <= 0 or len(reasons) >= limit:
            break
        spec = catalog.get(features[index])
        value = values.get(features[index])
        if spec is None or spec.sensitive or not spec.actionable:
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if not adverse(spec, float(value), (medians or {}).get(spec.id)):
            continue
        reasons.append(
            {
                "feature": spec.id,
                "shap": shap,
                "text_th": spec.reason(values, "th"),
                "text_en": spec.reason(values, "en"),
            }
        )
    return reasons


def suggested_step(
    reasons: list[dict[str, Any]], catalog: dict[str, FeatureSpec]
) -> tuple[str, str] | None:
    """The step for the first reason whose theme has one."""
    for reason in reasons:
        step = STEPS.get(catalog[reason["feature"]].theme)
        if step:
            return step
    return None
