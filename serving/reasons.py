"""Top reasons in Thai and English from a student's own values, and the next step to take."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from features.catalog import FeatureSpec
from riskmodel.bundle import FLAGGED

TOP_REASONS = 3
# The next step for a student's main reason (docs/operations.md, "This week's list"), by
# catalog theme.
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
    "new_school": (
        "พบนักเรียนและผู้ปกครองเพื่อช่วยปรับตัวในโรงเรียนใหม่",
        "meet the student and family to help them settle in at the new school",
    ),
}


# A flagged student whose reasons suggest no step of their own.
DEFAULT_STEP = (
    "พูดคุยกับนักเรียนและติดตามการมาเรียนอย่างใกล้ชิด",
    "talk with the student and follow their attendance closely",
)


def steps_for_flagged(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a next step for each flagged student (their reasons' step, else
    ``DEFAULT_STEP``) and none for the others: a step is for a student on the list."""
    flagged = rows["tier"].isin(FLAGGED).to_numpy()
    steps = {}
    for column, default in zip(
        ("suggested_step_th", "suggested_step_en"), DEFAULT_STEP, strict=True
    ):
        given = rows[column].astype(object)
        filled = given.where(given.notna() & (given.astype(str).str.strip() != ""), default)
        steps[column] = filled.where(flagged, None)
    return rows.assign(**steps)


def top_reasons(
    values: Mapping[str, Any],
    contributions: np.ndarray,
    features: list[str],
    catalog: dict[str, FeatureSpec],
    *,
    limit: int = TOP_REASONS,
    medians: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The features pushing this student's risk up most that an advisor can act on.

    Protected attributes and context an advisor cannot change are never shown; a
    feature without a recorded value, or with an ordinary one, is not a reason.
    """
    inputs = np.array([_number(values.get(f)) for f in features], dtype=float)
    chosen = reason_indices(
        inputs[None, :], contributions[None, :], features, catalog, limit=limit, medians=medians
    )
    return (
        ReasonTexts(catalog)
        .of_batch([values], inputs[None, :], contributions[None, :], chosen, features)
        .as_dicts()[0]
    )


def reason_indices(
    inputs: np.ndarray,
    contributions: np.ndarray,
    features: list[str],
    catalog: dict[str, FeatureSpec],
    *,
    limit: int = TOP_REASONS,
    medians: dict[str, float] | None = None,
) -> list[np.ndarray]:
    """``top_reasons`` for a batch: the column indices of each row's reasons, in order.

    Args:
        inputs: one row per student, a column per feature (NaN: not recorded).
        contributions: their contributions, the same shape.
    """
    return ReasonRules.of(features, catalog, medians).indices(inputs, contributions, limit)


@dataclass(frozen=True)
class ReasonRules:
    """Which of a model's inputs may be a reason, and on which side of the median: the
    same for every row of a model, so a scorer builds them once."""

    shown: np.ndarray  # in the catalog, not sensitive, something a school can act on
    judged: np.ndarray  # a known risky direction and a training median to judge by
    median: np.ndarray
    direction: np.ndarray
    # When each feature's reason is true of a value: its operator and number (the
    # catalog's ``reason_condition``; "" with NaN: every recorded value).
    operator: np.ndarray
    bound: np.ndarray
    group: np.ndarray  # reasons of one group say the same thing (-1: a group of its own)
    floor: float = 0.0  # the least contribution that is a reason

    @classmethod
    def of(
        cls,
        features: list[str],
        catalog: dict[str, FeatureSpec],
        medians: dict[str, float] | None = None,
        floor: float = 0.0,
    ) -> ReasonRules:
        specs = [catalog.get(f) for f in features]
        known = medians or {}
        conditions = [s.reason_condition if s is not None else None for s in specs]
        groups = [s.group if s is not None and s.group else None for s in specs]
        names = sorted({g for g in groups if g})
        return cls(
            shown=np.array([s is not None and not s.sensitive and s.actionable for s in specs]),
            judged=np.array([s is not None and s.monotone != 0 and s.id in known for s in specs]),
            median=np.array([_number(known.get(f)) for f in features]),
            direction=np.array([s.monotone if s is not None else 0 for s in specs]),
            operator=np.array([c[0] if c else "" for c in conditions], dtype=object),
            bound=np.array([c[1] if c else math.nan for c in conditions]),
            group=np.array([names.index(g) if g else -1 for g in groups]),
            floor=floor,
        )

    def true_of(self, inputs: np.ndarray) -> np.ndarray:
        """Whether each feature's reason states something true of each row's value."""
        holds: np.ndarray = ~np.isnan(inputs)
        with np.errstate(invalid="ignore"):
            for op, test in _OPERATORS.items():
                columns = self.operator == op
                if columns.any():
                    holds[:, columns] &= test(inputs[:, columns], self.bound[columns])
        return holds

    def indices(
        self, inputs: np.ndarray, contributions: np.ndarray, limit: int = TOP_REASONS
    ) -> list[np.ndarray]:
        """``reason_indices`` by these rules."""
        # An ordinary value is no reason: a feature pushes risk up through interactions
        # even when its own value is on the safe side of the training median ("absence
        # changed by +0%"). The known direction says which side is risky; without a median
        # every value counts.
        with np.errstate(invalid="ignore"):
            risky = np.where(self.direction > 0, inputs > self.median, inputs < self.median)
        usable = (
            (contributions > self.floor)
            & self.shown
            & self.true_of(inputs)
            & (risky | ~self.judged)
        )
        order = np.argsort(-contributions, axis=1, kind="stable")
        usable = np.take_along_axis(usable, order, axis=1)
        # Of reasons that say the same thing, the strongest only.
        groups = self.group[order]
        for group in np.unique(self.group[self.group >= 0]):
            same = usable & (groups == group)
            usable &= ~same | (np.cumsum(same, axis=1) == 1)
        usable &= np.cumsum(usable, axis=1) <= limit
        return [row_order[row_usable] for row_order, row_usable in zip(order, usable, strict=True)]


_OPERATORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": lambda values, bound: np.abs(values - bound) < 1e-9,
}


class ReasonTexts:
    """Reasons of batches of students: each distinct text is rendered once (most students
    share their reasons' values: 3 of 20 days absent, a grade of 1.5), up to ``limit``
    texts kept at a time."""

    def __init__(self, catalog: dict[str, FeatureSpec], limit: int = 200_000) -> None:
        self.catalog = catalog
        self.limit = limit
        self.rendered: dict[tuple[Any, ...], _Text] = {}

    def of_batch(
        self,
        values: Sequence[Mapping[str, Any]],
        inputs: np.ndarray,
        contributions: np.ndarray,
        chosen: list[np.ndarray],
        features: list[str],
    ) -> BatchReasons:
        """The reasons of every row, one after another, with their texts.

        Args:
            values: each row's values by id (for the texts' context values).
            inputs: the rows' model inputs, a column per feature.
            contributions: their contributions.
            chosen: each row's reason columns, in order (``reason_indices``).
        """
        if len(self.rendered) > self.limit:
            self.rendered = {}
        counts = [len(c) for c in chosen]
        rows = np.repeat(np.arange(len(chosen)), counts)
        columns = np.concatenate(chosen).astype(int) if chosen else np.zeros(0, int)
        weights = contributions[rows, columns].tolist()
        texts: list[_Text] = [_NO_TEXT] * len(rows)
        column_of = {f: j for j, f in enumerate(features)}
        for j in np.unique(columns).tolist():
            where = np.flatnonzero(columns == j)
            spec = self.catalog[features[j]]
            their_rows = rows[where]
            keys = [
                [_key(v) for v in inputs[their_rows, column_of[name]].tolist()]
                if name in column_of
                else [_key(values[r].get(name)) for r in their_rows.tolist()]
                for name in spec.reason_inputs
            ]
            for at, row, key in zip(
                where.tolist(), their_rows.tolist(), zip(*keys, strict=True), strict=True
            ):
                found = self.rendered.get((j, *key))
                if found is None:
                    row_values = values[row]
                    found = _Text.of(spec.reason(row_values, "th"), spec.reason(row_values, "en"))
                    self.rendered[(j, *key)] = found
                texts[at] = found
        return BatchReasons(features, counts, columns.tolist(), weights, texts)


@dataclass(frozen=True)
class BatchReasons:
    """A batch's reasons, one after another: how many each row has, and each one's column,
    weight and texts."""

    features: list[str]
    counts: list[int]
    columns: list[int]
    weights: list[float]
    texts: list[_Text]

    def as_dicts(self) -> list[list[dict[str, Any]]]:
        """Each row's reasons as the API gives them."""
        return [
            [
                {
                    "feature": self.features[self.columns[p]],
                    "shap": self.weights[p],
                    "text_th": self.texts[p].th,
                    "text_en": self.texts[p].en,
                }
                for p in span
            ]
            for span in self._spans()
        ]

    def as_stored(self) -> list[str]:
        """Each row's reasons as the JSON text a run stores (``serving.store.reasons_text``
        of ``as_dicts``), the same characters, put together from pieces made once: each
        text's JSON, each feature's name, and the batch's weights in one call."""
        heads = [f'{{"feature":{orjson.dumps(f).decode()},"shap":' for f in self.features]
        numbers = orjson.dumps(self.weights).decode()[1:-1].split(",") if self.weights else []
        return [
            "["
            + ",".join(heads[self.columns[p]] + numbers[p] + self.texts[p].json for p in span)
            + "]"
            for span in self._spans()
        ]

    def _spans(self) -> Iterator[range]:
        """Each row's places among the reasons."""
        at = 0
        for count in self.counts:
            yield range(at, at + count)
            at += count


@dataclass(frozen=True)
class _Text:
    """A reason's texts, and how they end its stored JSON object."""

    th: str
    en: str
    json: str

    @classmethod
    def of(cls, th: str, en: str) -> _Text:
        return cls(
            th,
            en,
            f',"text_th":{orjson.dumps(th).decode()},"text_en":{orjson.dumps(en).decode()}}}',
        )


_NO_TEXT = _Text("", "", "")


def _key(value: Any) -> Any:
    """A value as a dictionary key: every unknown is one key (NaN is not equal to itself)."""
    return None if value is None or value != value else value


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def first_steps(
    chosen: list[np.ndarray], features: list[str], catalog: dict[str, FeatureSpec]
) -> list[tuple[str, str] | None]:
    """``suggested_step`` of each row's reasons, from their columns (``reason_indices``)."""
    steps = [STEPS.get(catalog[f].theme) if f in catalog else None for f in features]
    counts = [len(c) for c in chosen]
    rows = np.repeat(np.arange(len(chosen)), counts)
    columns = np.concatenate(chosen).astype(int) if chosen else np.zeros(0, int)
    # Each row's first reason with a step: the first of its places (in order) with one.
    with_step = np.flatnonzero(np.array([s is not None for s in steps], dtype=bool)[columns])
    first_rows, first = np.unique(rows[with_step], return_index=True)
    found: list[tuple[str, str] | None] = [None] * len(chosen)
    for row, column in zip(first_rows.tolist(), columns[with_step[first]].tolist(), strict=True):
        found[row] = steps[column]
    return found


def suggested_step(
    reasons: list[dict[str, Any]], catalog: dict[str, FeatureSpec]
) -> tuple[str, str] | None:
    """The step for the first reason whose theme has one."""
    for reason in reasons:
        step = STEPS.get(catalog[reason["feature"]].theme)
        if step:
            return step
    return None
