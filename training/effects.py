"""Which help works: the effect of each kind of intervention on leaving, from the records.

For each intervention type, the effect on the treated (ATT) on leaving within the label
horizon, estimated with a doubly robust (augmented inverse-propensity) estimator:

- **treated**: a student's first action of that type in a term, placed on the last
  Monday before the action, with the features as of that Monday as confounders (what
  the school knew the day before it acted), except that the help history (help in the
  last 90 days, days since a home visit) leaves out the term's own help: the
  comparison had none all term, so the term's help, of whatever kind, is what is
  estimated, and help of the term counted among the confounders could never be
  balanced (a follow-up's earlier help);
- **comparison**: for each type, students with no action of any kind that term, each on
  one Monday drawn from the Mondays of that type's treated rows in the term, in
  proportion to how many were treated on each (risk-set sampling: a student is compared
  on the days the helped were, since the chance of leaving within the horizon depends on
  the time of the year: a Monday in January looks ahead to the year's end, one in June
  does not);
- the propensity of the action and the chance of leaving without it are LightGBM models,
  cross-fitted by student (no student's own row informs its prediction);
- the interval comes from the estimator's influence function, summed by student;
- the home visit is also estimated within each group of ``riskmodel.benefit`` (students
  with attendance or family trouble, the others), each against its own group's
  comparison rows: the benefit order uses both when the records tell them apart.

The estimate is intention-to-treat: a visit that found nobody home counts as a visit.
It is **too uncertain to use** when there are too few treated students, when the
interval is wider than ``MAX_INTERVAL_WIDTH``, or when overlap fails (too many treated
students whom no comparable untreated student resembles, or groups still unbalanced
after weighting). Only aggregate figures leave this module.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import chi2
from sklearn.model_selection import GroupKFold

from core.settings import Settings
from features.build import feature_ids
from features.history import RECENT_HELP
from features.sources import Sources
from riskmodel.benefit import BENEFIT_FILE, CANNOT_PREVENT, VisitBenefit, trouble_of
from riskmodel.registry import EFFECTS_EXPERIMENT, EFFECTS_FILE
from training.config import TrainConfig
from training.labels import label_rules
from training.matrix import build_training_matrix
from training.tracking import configure_tracking
from training.train import model_inputs

MIN_TREATED = 40
MIN_LEFT = 10  # treated students who left: fewer, and no interval can be trusted
MAX_INTERVAL_WIDTH = 0.10  # in probability of leaving: wider says nothing a school can use
PROPENSITY_CLIP = 0.99
OUTSIDE_OVERLAP = 0.95  # treated with a propensity above this have no comparable student
MAX_OUTSIDE_SHARE = 0.10
MAX_IMBALANCE = 0.25  # largest standardised mean difference after weighting (Stuart 2010)
FOLDS = 5
SHIFT_BOUND = 10.0  # a visit's log-odds shift is sought within this (every chance to ~0)
Z = 1.959963984540054
VISIT = "home_visit"
# A home visit's estimate within each group of riskmodel.benefit (attendance or family
# trouble, and the others): rows of the effects table beside the types.
VISIT_GROUPS = (f"{VISIT}.trouble", f"{VISIT}.others")
BENEFIT_WEEKS = 4  # the benefit model learns from one Monday in four of each student
COMPARED_WITH = "compared_with"  # the type a comparison row was drawn for
TERM_HELP = "term_help_on_chance"  # the simulator's truth: all the help of a student-term


@dataclass(frozen=True)
class Effect:
    """The estimated effect of one intervention type, with what makes it usable or not."""

    type: str
    treated: int  # students given the action (first of the type in a term)
    comparison: int  # students with no action that term
    left_treated: float  # share of the treated who left within the horizon
    effect: float | None  # ATT: change in the chance of leaving (negative: fewer left)
    low: float | None
    high: float | None
    outside_overlap: float  # share of treated with no comparable untreated student
    imbalance: float | None  # largest |standardised difference| left after weighting
    usable: bool
    why: str
    # How strong a reason to act that nobody recorded would have to be (as a risk ratio
    # with both the action and leaving) to move the interval's nearer end to no effect:
    # 1.0 when the interval already holds no effect (VanderWeele and Ding's E-value).
    e_value: float | None = None

    def covers(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    def record(self) -> dict[str, object]:
        return asdict(self)

    def estimated(self) -> tuple[float, float, float]:
        """The estimate and its interval's two ends."""
        if self.effect is None or self.low is None or self.high is None:
            raise ValueError(f"{self.type} has no estimate")
        return self.effect, self.low, self.high


def effect_rows(
    sources: Sources, matrix: pd.DataFrame, features: list[str], seed: int = 0
) -> pd.DataFrame:
    """One row per treated student-term and type, and per comparison student-term and type.

    A student is a child (``person_id``: their records at every school are theirs).
    Columns: person_id, as_of, term key, ``type`` (None for a comparison row),
    ``compared_with`` (the type a comparison row is drawn for; None for a treated row),
    ``label``, and the features as of that Monday.
    """
    actions = sources.interventions
    if actions is None or actions.empty:
        return pd.DataFrame(
            columns=["person_id", "as_of", "type", COMPARED_WITH, "label", *features]
        )
    rows = matrix[matrix["mature"].astype(bool)]
    # In one order whatever order the records were read in (a database returns them in
    # any), and whatever the children's person keys (each installation's ID hash key
    # makes its own): the comparison drawn below, and so every estimate, depends on it.
    rows = rows.sort_values(["school_id", "student_id", "as_of"], kind="stable")
    rows = rows[["person_id", "as_of", "academic_year", "term", "label", *features]]
    # The Monday before each action: features as the school knew them the day before.
    actions = actions[["school_id", "student_id", "person_id", "date", "type"]].sort_values(
        ["school_id", "student_id", "date", "type"], kind="stable"
    )[["person_id", "date", "type"]]
    day = pd.to_datetime(actions["date"])
    actions["as_of"] = (day - pd.Timedelta(days=1)) - pd.to_timedelta(
        (day - pd.Timedelta(days=1)).dt.day_of_week, unit="D"
    )
    placed = actions.merge(rows, on=["person_id", "as_of"], how="inner")
    placed = placed.sort_values("as_of", kind="stable").drop_duplicates(
        ["person_id", "academic_year", "term", "type"]
    )
    placed = _help_before_the_term(placed, actions, rows)
    # The comparison: no action of any kind that term, looked at on the type's Mondays.
    child_term = ["person_id", "academic_year", "term"]
    untouched = rows[~_keys(rows, child_term).isin(_keys(placed, child_term))]
    week = ["academic_year", "term", "as_of"]
    rng = np.random.default_rng(seed)
    drawn = []
    for kind in sorted(placed["type"].unique()):
        treated_on = placed[placed["type"] == kind].groupby(week).size()
        weight = pd.Series(treated_on.to_numpy(dtype=float), index=treated_on.index).reindex(
            _keys(untouched, week)
        )
        candidates = untouched[weight.notna().to_numpy()]
        # One Monday per student-term, drawn in proportion to the treated on it: the
        # largest of u^(1/w) (Efraimidis and Spirakis' weighted draw).
        key = rng.random(len(candidates)) ** (1 / weight.dropna().to_numpy())
        chosen = (
            candidates.assign(_key=key)
            .sort_values("_key", ascending=False, kind="stable")
            .drop_duplicates(child_term)
            .drop(columns="_key")
        )
        drawn.append(chosen.assign(type=None, **{COMPARED_WITH: kind}))
    return pd.concat(
        [placed.assign(**{COMPARED_WITH: None}), *drawn], ignore_index=True
    ).reset_index(drop=True)


def _help_before_the_term(
    placed: pd.DataFrame, actions: pd.DataFrame, rows: pd.DataFrame
) -> pd.DataFrame:
    """The treated rows' help history without the help of their own term.

    ``actions``: every action with its Monday; ``rows``: the matrix rows, which say which
    term each Monday of each child is in."""
    term = ["person_id", "academic_year", "term"]
    dated = actions.assign(date=pd.to_datetime(actions["date"]))
    terms = rows[["person_id", "as_of", "academic_year", "term"]].drop_duplicates(
        ["person_id", "as_of"]
    )
    dated = dated.merge(terms, on=["person_id", "as_of"], how="left")
    placed = placed.reset_index(drop=True)
    pairs = (
        placed[[*term, "as_of"]]
        .rename_axis("row")
        .reset_index()
        .merge(
            dated[["person_id", "date", "type", "academic_year", "term"]],
            on="person_id",
            suffixes=("", "_of_help"),
        )
    )
    pairs = pairs[pairs["date"] <= pairs["as_of"]]
    own_term = (pairs["academic_year"] == pairs["academic_year_of_help"]) & (
        pairs["term"] == pairs["term_of_help"]
    )
    if "interventions_90d" in placed:
        recent = own_term & (pairs["date"] > pairs["as_of"] - RECENT_HELP)
        counted = pairs[recent].groupby("row").size().reindex(placed.index, fill_value=0)
        placed["interventions_90d"] = placed["interventions_90d"] - counted.to_numpy()
    if "days_since_home_visit" in placed:
        # Where the latest visit is the term's own, the latest before the term (or none).
        visit = pairs["type"] == VISIT
        before = pairs[visit & ~own_term].groupby("row")["date"].max()
        changed = placed.index.isin(pairs.loc[visit & own_term, "row"])
        placed.loc[changed, "days_since_home_visit"] = (
            placed.loc[changed, "as_of"] - before.reindex(placed.index[changed])
        ).dt.days.astype(float)
    return placed


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[columns])


def estimate(rows: pd.DataFrame, kind: str, features: list[str], seed: int = 0) -> Effect:
    """The doubly robust ATT of ``kind`` against the comparison rows."""
    sample = rows[(rows["type"] == kind) | (rows[COMPARED_WITH] == kind)].reset_index(drop=True)
    treated = sample["type"].eq(kind).to_numpy()
    label = sample["label"].to_numpy(dtype=float)
    n_treated, n_comparison = int(treated.sum()), int((~treated).sum())
    left = float(label[treated].mean()) if n_treated else math.nan
    n_left = int(label[treated].sum())
    if n_treated < MIN_TREATED or n_comparison < MIN_TREATED or n_left < MIN_LEFT:
        return Effect(
            kind,
            n_treated,
            n_comparison,
            left,
            None,
            None,
            None,
            math.nan,
            None,
            False,
            f"too few records: {n_treated} treated of whom {n_left} left, {n_comparison} "
            f"comparison ({MIN_TREATED} treated, {MIN_LEFT} of them leaving, needed)",
        )
    x = sample[features].astype(float).to_numpy()
    propensity, untreated_risk = _cross_fitted(x, treated, label, sample["person_id"], seed)
    e = np.clip(propensity, 1 - PROPENSITY_CLIP, PROPENSITY_CLIP)
    odds = e / (1 - e)
    residual = label - untreated_risk
    share = treated.mean()
    att = float((treated * residual - (~treated) * odds * residual).sum() / treated.sum())
    influence = (treated * (residual - att) - (~treated) * odds * residual) / share
    by_student = pd.Series(influence).groupby(sample["person_id"].to_numpy()).sum()
    se = math.sqrt(float((by_student**2).sum())) / len(sample)
    low, high = att - Z * se, att + Z * se
    outside = float((propensity[treated] > OUTSIDE_OVERLAP).mean())
    imbalance = _imbalance(x, treated, np.where(treated, 1.0, odds))
    problems = []
    if high - low > MAX_INTERVAL_WIDTH:
        problems.append(f"the interval is {high - low:.3f} wide (over {MAX_INTERVAL_WIDTH})")
    if outside > MAX_OUTSIDE_SHARE:
        problems.append(f"{outside:.0%} of treated students have no comparable untreated one")
    if imbalance > MAX_IMBALANCE:
        problems.append(f"the groups still differ after weighting (|SMD| {imbalance:.2f})")
    return Effect(
        kind,
        n_treated,
        n_comparison,
        left,
        att,
        low,
        high,
        outside,
        imbalance,
        not problems,
        "; ".join(problems) if problems else "usable",
        e_value(left, low, high),
    )


def e_value(left_treated: float, low: float, high: float) -> float:
    """The E-value of the interval's end nearer to no effect, on the risk-ratio scale
    (the treated's chance of leaving against their chance without the action)."""
    if low <= 0 <= high:
        return 1.0
    nearer = high if high < 0 else low
    without = left_treated - nearer
    if without <= 0 or left_treated <= 0:
        return math.inf
    ratio = left_treated / without
    ratio = 1 / ratio if ratio < 1 else ratio
    return float(ratio + math.sqrt(ratio * (ratio - 1)))


def _cross_fitted(
    x: np.ndarray, treated: np.ndarray, label: np.ndarray, students: pd.Series, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold propensity and chance of leaving without the action (folds by student)."""
    propensity = np.full(len(x), treated.mean())
    untreated_risk = np.full(len(x), label[~treated].mean())
    folds = GroupKFold(n_splits=FOLDS)
    # Each child by the order they come in, not by their key: folds the same at every
    # installation of the same records.
    children = pd.factorize(students.astype(str))[0]
    for fit, held in folds.split(x, treated, groups=children):
        propensity[held] = chance_of(classifier(x[fit], treated[fit], seed), x[held])
        control = fit[~treated[fit]]
        if label[control].min() != label[control].max():
            model = classifier(x[control], label[control], seed)
            untreated_risk[held] = chance_of(model, x[held])
    return propensity, untreated_risk


def chance_of(model: lgb.LGBMClassifier, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_proba(x))[:, 1]


def classifier(x: np.ndarray, y: np.ndarray, seed: int) -> lgb.LGBMClassifier:
    model = lgb.LGBMClassifier(
        n_estimators=100,
        learning_rate=0.05,
        num_leaves=8,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    return model.fit(x, y.astype(int))


def _imbalance(x: np.ndarray, treated: np.ndarray, weights: np.ndarray) -> float:
    """The largest absolute standardised mean difference of any feature after weighting."""
    worst = 0.0
    for column in x.T:
        known = ~np.isnan(column)
        t, c = known & treated, known & ~treated
        if t.sum() < 2 or c.sum() < 2:
            continue
        mean_t = np.average(column[t], weights=weights[t])
        mean_c = np.average(column[c], weights=weights[c])
        spread = math.sqrt((column[t].var() + column[c].var()) / 2)
        if spread > 0:
            worst = max(worst, abs(mean_t - mean_c) / spread)
    return worst


def simulated_effects(truth: pd.DataFrame, rows: pd.DataFrame) -> dict[str, float]:
    """The synthetic data's true ATT per type, over the same treated student-terms.

    What the study estimates: the helped are compared with students given no help all
    term, so a type's truth is the effect of all the help its students had that term (a
    home visit's, with the counselling before it or the committee's follow-up after),
    not of that one action.

    Raises:
        ValueError: the truth file was written before ``ews synth`` kept that effect.
    """
    if TERM_HELP not in truth:
        raise ValueError(
            f"the truth file has no {TERM_HELP} column (the effect of all the help a "
            "student had that term): it was written by an older ews synth; generate the "
            "data again"
        )
    truth = truth.copy()
    truth["date"] = pd.to_datetime(truth["date"])
    day = truth["date"] - pd.Timedelta(days=1)
    truth["as_of"] = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    treated = rows.dropna(subset=["type"])[["person_id", "as_of", "type"]]
    matched = truth.merge(treated, on=["person_id", "as_of", "type"], how="inner")
    matched = matched.drop_duplicates(["person_id", "as_of", "type"])
    return {str(k): float(v) for k, v in matched.groupby("type")[TERM_HELP].mean().items()}


@dataclass(frozen=True)
class EffectsReport:
    effects: list[Effect]
    simulated: dict[str, float]  # the synthetic data's truth, when given
    rows: int
    run_id: str | None = None
    benefit: VisitBenefit | None = None  # a home visit's benefit per student, if supported
    benefit_why: str = ""  # why there is none, or what it rests on

    def table(self) -> pd.DataFrame:
        """The aggregate table that is logged and shown: one row per type, no student."""
        frame = pd.DataFrame([e.record() for e in self.effects])
        if self.simulated:
            frame["simulated"] = frame["type"].map(self.simulated)
            frame["covered"] = [
                e.covers(self.simulated[e.type]) if e.type in self.simulated else None
                for e in self.effects
            ]
        return frame


def measure_effects(
    settings: Settings,
    engine: sa.Engine,
    horizon_days: int,
    truth: Path | None = None,
    seed: int = 0,
) -> EffectsReport:
    """Estimate every intervention type's effect and log the table to MLflow.

    Args:
        truth: the simulator's ``truth/effects.csv``: the true effects go beside the
            estimates (synthetic data only).

    Raises:
        ValueError: the data has no intervention, or lives in a Parquet dataset.
    """
    if settings.dataset_path is not None:
        raise ValueError(
            "ews effects reads the operational database; with EWS_DATASET_PATH set the "
            "daily records are in the dataset: unset it to run on a database load"
        )
    sources = Sources.from_database(engine)
    if sources.interventions is None or sources.interventions.empty:
        raise ValueError("no intervention is recorded: there is nothing to estimate")
    matrix = build_training_matrix(sources, label_rules(engine, horizon_days))
    report = study(sources, matrix, horizon_days, truth, seed)
    run_id = log_effects(settings, report, horizon_days)
    benefit = dataclasses.replace(report.benefit, run_id=run_id) if report.benefit else None
    return dataclasses.replace(report, run_id=run_id, benefit=benefit)


def study(
    sources: Sources,
    matrix: pd.DataFrame,
    horizon_days: int,
    truth: Path | None = None,
    seed: int = 0,
) -> EffectsReport:
    """Every type's estimate and the visit benefit model from a training matrix (its
    rows may stop before a term, to replay that term afterwards)."""
    features = [
        f for f in feature_ids() if f in matrix and pd.api.types.is_numeric_dtype(matrix[f])
    ]
    rows = effect_rows(sources, matrix, features, seed)
    kinds = sorted(rows["type"].dropna().unique())
    effects = [estimate(rows, kind, features, seed) for kind in kinds]
    trouble = trouble_of(rows[features].to_numpy(dtype=float), features)
    groups = visit_groups(rows, trouble, features, seed) if VISIT in kinds else []
    simulated = {}
    if truth is not None:
        done = _with_children(pd.read_csv(truth, dtype={"student_id": str}), sources.students)
        simulated = simulated_effects(done, rows)
        visits = (rows["type"] == VISIT).to_numpy()
        for group, members in zip(VISIT_GROUPS, (trouble, ~trouble), strict=True):
            found = simulated_effects(done, rows[visits & members]).get(VISIT)
            if found is not None:
                simulated[group] = found
    visit = next((e for e in effects if e.type == VISIT), None)
    inputs = [f for f in model_inputs(TrainConfig.load()) if f in features]
    benefit, why = fit_visit_benefit(
        sources.exits,
        matrix,
        rows,
        inputs,
        visit=visit,
        horizon_days=horizon_days,
        seed=seed,
        groups=groups,
    )
    return EffectsReport(effects + groups, simulated, len(rows), None, benefit, why)


def _with_children(truth: pd.DataFrame, students: pd.DataFrame) -> pd.DataFrame:
    """The simulator's truth (by school and code) with each student's child."""
    key = ["school_id", "student_id"]
    people = students[[*key, "person_id"]].astype(str).drop_duplicates(key)
    return truth.astype(dict.fromkeys(key, str)).merge(people, on=key, how="inner")


def visit_groups(
    rows: pd.DataFrame, trouble: np.ndarray, features: list[str], seed: int = 0
) -> list[Effect]:
    """The home visit's estimate among students with attendance or family trouble and
    among the others (each against the comparison rows of its own group)."""
    comparison = (rows[COMPARED_WITH] == VISIT).to_numpy()
    visits = (rows["type"] == VISIT).to_numpy()
    found = []
    for group, members in zip(VISIT_GROUPS, (trouble, ~trouble), strict=True):
        sample = rows[(visits | comparison) & members].reset_index(drop=True)
        found.append(dataclasses.replace(estimate(sample, VISIT, features, seed), type=group))
    return found


def addressable_labels(
    exits: pd.DataFrame | None, matrix: pd.DataFrame, horizon_days: int
) -> np.ndarray:
    """1 where a row's student left within the horizon for a reason a visit can address:
    every dropout label except a recorded dropout (``exits``) whose reason a visit cannot
    change."""
    label = matrix["label"].to_numpy(dtype=float)
    if exits is None or exits.empty or "reason_code" not in exits:
        return label
    reason = pd.to_numeric(exits["reason_code"], errors="coerce")
    gone = exits[(exits["exit_type"] == "dropout") & reason.isin(CANNOT_PREVENT)]
    gone = gone.assign(exit_date=pd.to_datetime(gone["exit_date"]))[["person_id", "exit_date"]]
    keyed = matrix[["person_id", "as_of"]].reset_index(drop=True).reset_index()
    joined = keyed.merge(gone, on="person_id")
    within = (joined["exit_date"] > joined["as_of"]) & (
        joined["exit_date"] <= joined["as_of"] + pd.Timedelta(days=horizon_days)
    )
    moved = np.zeros(len(matrix), dtype=bool)
    moved[joined.loc[within, "index"].to_numpy()] = True
    return np.where(moved, 0.0, label)


def fit_visit_benefit(
    exits: pd.DataFrame | None,
    matrix: pd.DataFrame,
    rows: pd.DataFrame,
    features: list[str],
    *,
    visit: Effect | None,
    horizon_days: int,
    seed: int = 0,
    groups: Sequence[Effect] = (),
) -> tuple[VisitBenefit | None, str]:
    """The benefit model of ``riskmodel.benefit``, when the visits' estimate supports one.

    The addressable chance is learnt from student-terms with no action at all (the chance
    without help). A visit's log-odds effect is the shift that gives the visited students'
    addressable chances (they are not among the rows it learnt from) the doubly robust
    estimate of what visits did for them; one per group of ``groups`` (``visit_groups``)
    when no one shift fits both groups' estimates at the 95% level (``_not_apart``), else
    one for everyone.
    """
    if visit is None or not visit.usable or visit.high is None or visit.effect is None:
        why = visit.why if visit is not None else "no home visit is recorded"
        return None, f"no benefit order: the home-visit estimate is not usable ({why})"
    if visit.high >= 0:
        return None, (
            "no benefit order: the home-visit interval does not exclude no effect "
            f"({visit.low:+.3f} to {visit.high:+.3f})"
        )
    mature = matrix[matrix["mature"].astype(bool)]
    addressable = pd.Series(addressable_labels(exits, mature, horizon_days), mature.index)
    acted = rows[rows["type"].notna()]
    helped = set(zip(acted["person_id"], acted["academic_year"], acted["term"], strict=True))
    keys = zip(mature["person_id"], mature["academic_year"], mature["term"], strict=True)
    untouched = mature[[key not in helped for key in keys]]
    learn = some_weeks(untouched)
    model = classifier(
        learn[features].to_numpy(dtype=float), addressable[learn.index].to_numpy(), seed
    )
    visited = rows[rows["type"] == VISIT]
    inputs = visited[features].to_numpy(dtype=float)
    chance = chance_of(model, inputs)
    tau = matching_shift(chance, visit.effect)
    trouble_tau, told = None, _groups_unusable(groups)
    if not told:
        trouble = trouble_of(inputs, features)
        chances = (chance[trouble], chance[~trouble])
        told = _not_apart(chances, groups)
        if not told:
            trouble_tau, tau = (
                matching_shift(c, g.estimated()[0]) for c, g in zip(chances, groups, strict=True)
            )
    benefit = VisitBenefit(
        features=features,
        model=model.booster_.model_to_string(),
        log_odds_effect=tau,
        effect=visit.effect,
        low=float(visit.low if visit.low is not None else math.nan),
        high=visit.high,
        horizon_days=horizon_days,
        made_at=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M"),
        trouble_log_odds_effect=trouble_tau,
    )
    if trouble_tau is not None:
        return benefit, (
            f"benefit order available, by group: a visit shifts the log-odds of leaving "
            f"for a reason it can address by {trouble_tau:+.2f} for students with "
            f"attendance or family trouble and by {tau:+.2f} for the others (learnt from "
            f"{len(visited)} visits)"
        )
    return benefit, (
        f"benefit order available: a visit shifts the log-odds of leaving for a reason it "
        f"can address by {tau:+.2f} (learnt from {len(visited)} visits); one effect for "
        f"everyone: {told}"
    )


def _groups_unusable(groups: Sequence[Effect]) -> str:
    """Why the groups' estimates cannot be used ("" when they can)."""
    if len(groups) != len(VISIT_GROUPS):
        return "the visits were not estimated by group"
    for group in groups:
        name = "students with attendance or family trouble" if group is groups[0] else "others"
        if not group.usable or group.effect is None:
            return f"the estimate for {name} is not usable ({group.why})"
    return ""


def _not_apart(chances: Sequence[np.ndarray], groups: Sequence[Effect]) -> str:
    """Why the visit gets one log-odds shift for everyone ("" when the records tell the two
    groups apart).

    The test of one shift for both: the shift whose change to each group's visited
    students' chances comes nearest both groups' estimates, each weighed by its standard
    error (on the scale of the chance of leaving, where the estimates' intervals are
    symmetric), and the misfit left, a chi-squared of one degree of freedom. The groups
    are told apart when it is above Z squared (the 95% level).
    """
    estimates = [group.estimated() for group in groups]

    def misfit(shift: float) -> float:
        return sum(
            ((effect - mean_change(chance, shift)) / ((high - low) / (2 * Z))) ** 2
            for chance, (effect, low, high) in zip(chances, estimates, strict=True)
        )

    one = minimize_scalar(misfit, bounds=(-SHIFT_BOUND, SHIFT_BOUND), method="bounded")
    if one.fun > Z**2:
        return ""
    troubled, others = (f"{e:+.3f} [{low:+.3f}, {high:+.3f}]" for e, low, high in estimates)
    return (
        f"the records do not tell the groups apart: one shift of the log-odds "
        f"({one.x:+.2f}) fits both groups' estimates, {troubled} for students with "
        f"attendance or family trouble and {others} for the others (chi-squared "
        f"{one.fun:.2f}, p {chi2.sf(one.fun, 1):.2f})"
    )


def some_weeks(rows: pd.DataFrame) -> pd.DataFrame:
    """One Monday in ``BENEFIT_WEEKS`` of the rows (a student's weeks are much alike)."""
    weeks = (rows["as_of"] - rows["as_of"].min()).dt.days // 7
    kept: pd.DataFrame = rows[(weeks % BENEFIT_WEEKS == 0).to_numpy()]
    return kept


def mean_change(chance: np.ndarray, shift: float) -> float:
    """How much shifting the log-odds of ``chance`` by ``shift`` changes its mean."""
    p = np.clip(chance, 1e-6, 1 - 1e-6)
    return float((1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift))) - p).mean())


def matching_shift(chance: np.ndarray, effect: float, bound: float = SHIFT_BOUND) -> float:
    """The shift of the log-odds of ``chance`` that changes their mean by ``effect``
    (within ``bound``: an effect beyond what any shift can do gets the bound)."""

    def change(shift: float) -> float:
        return mean_change(chance, shift) - effect

    if change(-bound) >= 0:
        return -bound
    if change(bound) <= 0:
        return bound
    return float(brentq(change, -bound, bound, xtol=1e-12))


def log_effects(settings: Settings, report: EffectsReport, horizon_days: int) -> str:
    configure_tracking(settings)
    found = mlflow.get_experiment_by_name(EFFECTS_EXPERIMENT)
    experiment = (
        found.experiment_id if found is not None else mlflow.create_experiment(EFFECTS_EXPERIMENT)
    )
    table = report.table()
    with mlflow.start_run(run_name="intervention effects", experiment_id=experiment) as run:
        mlflow.log_params(
            {
                "horizon_days": horizon_days,
                "estimator": "doubly robust ATT (AIPW), LightGBM nuisances cross-fitted by student",
                "rows": report.rows,
                "simulated_truth": bool(report.simulated),
            }
        )
        for e in report.effects:
            figures = {"treated": e.treated, "usable": float(e.usable)}
            figures |= {
                k: v
                for k, v in (("effect", e.effect), ("low", e.low), ("high", e.high))
                if v is not None
            }
            if e.type in report.simulated:
                figures["simulated"] = report.simulated[e.type]
            mlflow.log_metrics({f"{e.type}.{k}": float(v) for k, v in figures.items()})
        mlflow.set_tag("benefit_order", report.benefit_why)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / EFFECTS_FILE
            table.to_csv(path, index=False)
            mlflow.log_artifact(str(path))
            if report.benefit is not None:
                mlflow.log_metric(f"{VISIT}.benefit_log_odds", report.benefit.log_odds_effect)
                if report.benefit.trouble_log_odds_effect is not None:
                    mlflow.log_metric(
                        f"{VISIT}.trouble.benefit_log_odds",
                        report.benefit.trouble_log_odds_effect,
                    )
                model = Path(folder) / BENEFIT_FILE
                model.write_text(report.benefit.to_json(), encoding="utf-8")
                mlflow.log_artifact(str(model))
    return str(run.info.run_id)
