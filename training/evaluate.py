"""Test-period metrics: discrimination, calibration, and precision and recall at the top.

Each week's list is ranked separately, as advisors and committees see it: "top 10%"
means the top tenth of the students scored on the same as-of date (overall), or of the
same school on that date (within school). "At capacity" means each school's own
weekly home-visit capacity (or, where it is unknown, the high tier's share of it).
Intervals come from a bootstrap over students, never rows: one student's weeks rise and
fall together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from riskmodel.ranking import VISIT_WINDOW, list_order

Metric = Callable[[np.ndarray], float]


def flag_top(
    scores: np.ndarray, groups: pd.DataFrame, share: float, *, rows: pd.DataFrame | None = None
) -> np.ndarray:
    """True for the top ``share`` (at least one) of each group by score (``flag_places``)."""
    return flag_places(scores, groups, lambda size: top_share_places(share, size), rows=rows)


def top_share_places(share: float, size: np.ndarray) -> np.ndarray:
    """How many of a group of ``size`` its top ``share`` holds: at least one."""
    places: np.ndarray = np.maximum(1, np.ceil(share * size))
    return places


def flag_places(
    scores: np.ndarray,
    groups: pd.DataFrame,
    places: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    *,
    rows: pd.DataFrame | None = None,
) -> np.ndarray:
    """True for the top ``places`` of each group by score.

    ``places`` is either a function of the group's size or one value per row (the same
    within a group), such as each school's capacity. With ``rows`` (feature rows holding
    ``student_id``), students with the same score come in the order the service's lists
    give them (``riskmodel.ranking.list_order``), as a committee meets them.
    """
    place, size = list_places(scores, groups, rows=rows)
    limit = places(size) if callable(places) else np.asarray(places, dtype=float)
    flagged: np.ndarray = place <= limit
    return flagged


def list_places(
    scores: np.ndarray, groups: pd.DataFrame, *, rows: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's place (from 1) on its group's list by score, in ``flag_places``' order,
    and the size of its group: the top ``k`` of a group are the rows placed ``k`` or
    better, for any ``k``, from one sort."""
    order = _in_list_order(scores, rows)
    frame = groups.reset_index(drop=True).iloc[order]
    keys = list(groups.columns)
    place = np.empty(len(order), dtype=np.int64)
    size = np.empty(len(order), dtype=np.int64)
    place[order] = frame.groupby(keys, sort=False).cumcount().to_numpy() + 1
    size[order] = frame.groupby(keys, sort=False)[keys[0]].transform("size").to_numpy()
    return place, size


def visit_plans(scores: np.ndarray, rows: pd.DataFrame, places: np.ndarray) -> np.ndarray:
    """True for the rows a school's weekly home-visit plan takes, replayed week after week
    as the committee lives it: each week (``as_of``), each school (``school_id``) visits
    the first ``places`` students of its list (``flag_places``' order) who were not on its
    plan in the ``VISIT_WINDOW`` before, as the service's plan leaves out the students
    visited in it. A list that puts the same students first every week moves on to the
    next ones, so a scorer is judged on the students its list ranks below the first few
    too, not on how much its scores move from week to week."""
    if rows.empty:
        return np.zeros(0, dtype=bool)
    order = _in_list_order(scores, rows)
    day = pd.to_datetime(rows["as_of"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    order = order[np.argsort(day[order], kind="stable")]  # week by week, in list order
    day = day[order]
    school = pd.factorize(rows["school_id"])[0][order]
    # Whom a school visited: its student, as the service's plan keys its visits (the
    # child where the rows hold no codes).
    student = "student_id" if "student_id" in rows else "person_id"
    visits = rows.groupby(["school_id", student], sort=False, observed=True, dropna=False)
    visitor = visits.ngroup().to_numpy()[order]
    limit = np.asarray(places, dtype=float)[order]
    last_visit = np.full(visitor.max() + 1, np.iinfo(np.int64).min)
    taken = np.zeros(len(order), dtype=bool)
    starts = np.flatnonzero(np.diff(day, prepend=day[:1] - 1))
    for start, end in zip(starts, [*starts[1:], len(day)], strict=True):
        free = np.arange(start, end)
        free = free[last_visit[visitor[free]] <= day[start] - VISIT_WINDOW.days]
        position = pd.Series(school[free]).groupby(school[free]).cumcount().to_numpy()
        chosen = free[position < limit[free]]
        taken[chosen] = True
        last_visit[visitor[chosen]] = day[start]
    flagged = np.zeros(len(order), dtype=bool)
    flagged[order] = taken
    return flagged


def _in_list_order(scores: np.ndarray, rows: pd.DataFrame | None) -> np.ndarray:
    """Row positions in the order of the service's lists (``list_order``) where ``rows``
    hold codes; without them, by score with a fixed pseudo-random order among equal
    scores (row order would follow the table's sort, school ids, which can correlate with
    who leaves)."""
    if rows is not None and "student_id" in rows:
        return list_order(scores, rows.reset_index(drop=True))
    tiebreak = np.random.default_rng(0).random(len(scores))
    return np.lexsort((tiebreak, -np.asarray(scores, dtype=float)))


def capacity_places(meta: pd.DataFrame, default_share: float) -> np.ndarray:
    """Each row's school capacity for its week; ``default_share`` of the school's
    students that week where the capacity is unknown."""
    size = meta.groupby(["as_of", "school_id"])["school_id"].transform("size").to_numpy()
    fallback = np.maximum(1, np.floor(default_share * size))
    capacity = meta["capacity"].to_numpy(dtype=float) if "capacity" in meta else fallback
    return np.where(np.isfinite(capacity) & (capacity > 0), capacity, fallback)


def precision_recall_at(labels: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    positives = labels.sum()
    hits = labels[flagged].sum()
    precision = hits / flagged.sum() if flagged.any() else float("nan")
    recall = hits / positives if positives else float("nan")
    return float(precision), float(recall)


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> float:
    """Weighted gap between predicted and observed rates over equal-count bins."""
    order = np.argsort(probabilities, kind="stable")
    gaps = [
        len(part) * abs(probabilities[part].mean() - labels[part].mean())
        for part in np.array_split(order, bins)
        if len(part)
    ]
    return float(sum(gaps) / len(labels))


def evaluate(
    labels: np.ndarray,
    probabilities: np.ndarray,
    ranking: np.ndarray,
    meta: pd.DataFrame,
    *,
    top_shares: list[float],
    capacity_share: float = 0.05,
) -> dict[str, float]:
    """All test metrics of one scorer.

    Args:
        labels: 0/1 outcomes.
        probabilities: calibrated probabilities (Brier score and calibration error).
        ranking: the score lists are ranked by; calibration maps it monotonically to the
            probability but flattens it into ties, so ranking metrics use it instead.
        meta: ``as_of``, ``school_id`` (and ``capacity``) of each row, and where they
            are known its code and the lists' tie-break features (``flag_places``).
        top_shares: e.g. [0.05, 0.10, 0.20].
        capacity_share: the share flagged in a school whose capacity is unknown.
    """
    two_classes = 0 < labels.sum() < len(labels)
    metrics = {
        "roc_auc": float(roc_auc_score(labels, ranking)) if two_classes else float("nan"),
        "pr_auc": float(average_precision_score(labels, ranking)) if two_classes else float("nan"),
        "brier": float(brier_score_loss(labels, probabilities)),
        "ece": expected_calibration_error(labels, probabilities),
        "base_rate": float(labels.mean()),
    }
    for share in top_shares:
        pct = round(share * 100)
        for scope, columns in (("", ["as_of"]), ("_school", ["as_of", "school_id"])):
            flagged = flag_top(ranking, meta[columns], share, rows=meta)
            precision, recall = precision_recall_at(labels, flagged)
            metrics[f"precision_at_{pct}{scope}"] = precision
            metrics[f"recall_at_{pct}{scope}"] = recall
    at_capacity = flag_places(
        ranking, meta[["as_of", "school_id"]], capacity_places(meta, capacity_share), rows=meta
    )
    precision, recall = precision_recall_at(labels, at_capacity)
    metrics["precision_at_capacity_school"] = precision
    metrics["recall_at_capacity_school"] = recall
    return metrics


def metrics_table(results: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Scorers as columns, metrics as rows."""
    return pd.DataFrame(results)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval (2.5th and 97.5th percentiles)."""

    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.4f} [{self.low:.4f}, {self.high:.4f}]"

    @classmethod
    def of(cls, estimate: float, samples: np.ndarray) -> Interval:
        finite = samples[np.isfinite(samples)]
        if len(finite) == 0:
            return cls(float(estimate), float("nan"), float("nan"))
        low, high = np.percentile(finite, [2.5, 97.5])
        return cls(float(estimate), float(low), float(high))


@dataclass(frozen=True)
class StudentResamples:
    """Bootstrap resamples of students, shared by every statistic of one comparison.

    ``weights[r, s]`` is how many times resample ``r`` drew student ``s``; a student's
    rows are always drawn together.
    """

    codes: np.ndarray  # each row's student number
    weights: np.ndarray  # (resamples, students)

    @classmethod
    def draw(cls, students: np.ndarray, resamples: int, seed: int = 0) -> StudentResamples:
        codes, unique = pd.factorize(np.asarray(students))
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(len(unique), np.full(len(unique), 1 / len(unique)), resamples)
        return cls(np.asarray(codes), weights.astype(float))

    def ratio(self, numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        """sum(numerator) / sum(denominator) in every resample (say hits / flagged)."""
        students = self.weights.shape[1]
        top = np.bincount(self.codes, weights=numerator, minlength=students)
        bottom = np.bincount(self.codes, weights=denominator, minlength=students)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((self.weights @ top) / (self.weights @ bottom))

    def statistic(self, function: Metric, limit: int = 100) -> np.ndarray:
        """Any statistic of row indices, on the first ``limit`` resamples (slower).

        A resample's rows are each drawn student's rows, student by student in the order
        drawn, each student's in their original order.
        """
        students = self.weights.shape[1]
        by_student = np.argsort(self.codes, kind="stable")  # each student's rows together
        counts = np.bincount(self.codes, minlength=students)
        starts = np.cumsum(counts) - counts
        values = []
        for weights in self.weights[:limit]:
            drawn = np.repeat(np.arange(students), weights.astype(int))
            lengths = counts[drawn]
            within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            values.append(function(by_student[np.repeat(starts[drawn], lengths) + within]))
        return np.array(values)


def rank_auc(labels: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC from the ranks of the scores (ties share their mean rank): the same value
    as ``roc_auc_score`` without its checks, for the thousands of bootstrap resamples.
    NaN unless both classes are present."""
    positives = int(np.count_nonzero(labels))
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    _, tie, ties = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(ties) - (ties - 1) / 2)[tie]  # from 1; tied scores share their mean
    above = float(ranks[np.asarray(labels) != 0].sum()) - positives * (positives + 1) / 2
    return above / (positives * negatives)


def precision_interval(
    labels: np.ndarray, flagged: np.ndarray, resamples: StudentResamples
) -> Interval:
    """Precision of a flagged set, with its interval over students."""
    hits = (labels * flagged).astype(float)
    estimate = hits.sum() / flagged.sum() if flagged.any() else float("nan")
    return Interval.of(estimate, resamples.ratio(hits, flagged.astype(float)))


def calibration_check(
    labels: np.ndarray, risk: np.ndarray, flagged: np.ndarray, bins: int = 10
) -> pd.DataFrame:
    """Expected against observed leavers by decile of risk and in the flagged group.

    A ratio near 1 means that "30% risk" meant about 3 in 10 such students left; below 1
    the model over-states the risk, above 1 it under-states it.
    """
    order = np.argsort(risk, kind="stable")
    groups = [(f"decile {i + 1}", part) for i, part in enumerate(np.array_split(order, bins))]
    groups.append(("flagged", np.flatnonzero(flagged)))
    records = []
    for name, rows in groups:
        expected = float(risk[rows].sum())
        observed = int(labels[rows].sum())
        records.append(
            {
                "group": name,
                "rows": len(rows),
                "mean_risk": float(risk[rows].mean()) if len(rows) else float("nan"),
                "observed_rate": float(labels[rows].mean()) if len(rows) else float("nan"),
                "expected": expected,
                "observed": observed,
                "observed_over_expected": observed / expected if expected > 0 else float("nan"),
            }
        )
    return pd.DataFrame(records)


FOUND_WEEKS = (4, 8)


@dataclass(frozen=True)
class FoundInTime:
    """Of the students who left during a period of weekly home-visit plans: the share
    visited at least 4 and at least 8 weeks before leaving (intervals over students), and
    the median lead in weeks from the first visit to leaving (0 for a leaver never visited
    before)."""

    left: int
    found_4w: Interval
    found_8w: Interval
    median_lead_weeks: float

    def __str__(self) -> str:
        return (
            f"{self.left} left: found 4+ weeks before {self.found_4w}, 8+ weeks before "
            f"{self.found_8w}, median lead {self.median_lead_weeks:.1f} weeks"
        )


def leads(rows: pd.DataFrame, scores: np.ndarray, places: np.ndarray) -> pd.Series:
    """Of each student who left (``person_id``; ``label`` on some week, leaving on
    ``event_date``): the weeks from the first home-visit plan that took them
    (``visit_plans``: each school its ``places`` a week by ``scores``, leaving out whom it
    visited in the last 30 days) to their leaving (0: never taken before). Students with
    the same score come in the lists' own order (``riskmodel.ranking``), as the
    committee's plan takes them: a score that cannot tell students apart finds them in the
    order of its tie-break, a few more each week."""
    return visited_leads(rows, visit_plans(scores, rows, places))


def visited_leads(rows: pd.DataFrame, visited: np.ndarray) -> pd.Series:
    """``leads`` of plans already replayed: ``visited`` is True for the rows a plan took."""
    event = pd.to_datetime(rows["event_date"]).to_numpy()
    as_of = pd.to_datetime(rows["as_of"]).to_numpy()
    ahead = visited & (rows["label"].to_numpy() == 1) & (as_of < event)
    weeks = np.where(ahead, (event - as_of) / np.timedelta64(7, "D"), 0.0)
    frame = pd.DataFrame(
        {"person": rows["person_id"].astype(str).to_numpy(), "left": rows["label"].to_numpy()}
    ).assign(lead=weeks)
    students = frame.groupby("person", sort=True).agg(left=("left", "max"), lead=("lead", "max"))
    return students.loc[students["left"] == 1, "lead"]


def finds_more(one: np.ndarray, other: np.ndarray, *, weeks: int = FOUND_WEEKS[1]) -> bool | None:
    """Whether the lists behind ``one`` find more of the same students who left ``weeks``
    or more weeks ahead than those behind ``other`` (``leads`` of the same leavers, in the
    same order): the leavers one found and the other did not, against the reverse, a
    paired sign test at the 95% level. None when the leavers cannot tell them apart (a
    few students of a small school decide nothing)."""
    mine, theirs = np.asarray(one) >= weeks, np.asarray(other) >= weeks
    only_mine, only_theirs = int((mine & ~theirs).sum()), int((theirs & ~mine).sum())
    if abs(only_mine - only_theirs) > 1.96 * np.sqrt(only_mine + only_theirs):
        return only_mine > only_theirs
    return None


def found_difference(
    new: pd.Series, old: pd.Series, resamples: int
) -> tuple[float, float, Interval]:
    """The share of leavers found 8+ weeks ahead by two scorers (``leads`` of the same
    students who left), and the first minus the second with its interval over them."""
    if new.empty:
        nan = float("nan")
        return nan, nan, Interval(nan, nan, nan)
    weeks = FOUND_WEEKS[-1]
    found_new = (new.to_numpy() >= weeks).astype(float)
    found_old = (old.reindex(new.index).fillna(0).to_numpy() >= weeks).astype(float)
    draws = StudentResamples.draw(new.index.to_numpy(), resamples)
    ones = np.ones(len(new))
    difference = Interval.of(
        float(found_new.mean() - found_old.mean()),
        draws.ratio(found_new, ones) - draws.ratio(found_old, ones),
    )
    return float(found_new.mean()), float(found_old.mean()), difference


def found_share(rows: pd.DataFrame, scores: np.ndarray, places: np.ndarray, *, weeks: int) -> float:
    """The share of the students who left that the weekly home-visit plans took at least
    ``weeks`` weeks before leaving (``leads``; NaN when nobody left)."""
    lead = leads(rows, scores, places)
    return float((lead >= weeks).mean()) if len(lead) else float("nan")


def found_in_time(
    rows: pd.DataFrame, scores: np.ndarray, places: np.ndarray, *, resamples: int = 200
) -> FoundInTime:
    """Found in time, as a school lives it: every week each school visits its own
    ``places`` by ``scores``, leaving out whom it visited in the last 30 days
    (``visit_plans``); of the students who left, who was visited at least 4 and 8 weeks
    before leaving (``leads``)."""
    return found_of(leads(rows, scores, places), resamples=resamples)


def found_of(lead: pd.Series, *, resamples: int = 200) -> FoundInTime:
    """``found_in_time`` of the students who left, from their ``leads`` (by student)."""
    if lead.empty:
        nothing = Interval(float("nan"), float("nan"), float("nan"))
        return FoundInTime(0, nothing, nothing, float("nan"))
    draws = StudentResamples.draw(lead.index.to_numpy(), resamples)
    ones = np.ones(len(lead))

    def share(weeks_ahead: int) -> Interval:
        found = (lead.to_numpy() >= weeks_ahead).astype(float)
        return Interval.of(float(found.mean()), draws.ratio(found, ones))

    return FoundInTime(
        left=len(lead),
        found_4w=share(FOUND_WEEKS[0]),
        found_8w=share(FOUND_WEEKS[1]),
        median_lead_weeks=float(np.median(lead)),
    )
