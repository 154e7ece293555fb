"""Scoring with explanations, and the weekly run that scores every enrolled student.

The run's results are stored by ``serving.store``: re-running a week with the same
model replaces that run in one transaction, so a crash leaves the previous run intact.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import sqlalchemy as sa

from core.cluster import Done, kept_bytes, two_rounds
from features.build import features_as_of
from features.catalog import FeatureSpec, specs_from_entries
from features.freshness import COLUMNS as FRESHNESS_COLUMNS
from features.freshness import school_freshness
from features.partitions import enrolled_in_year, partition_counts, weekly_sources
from features.school_context import add_counts
from features.sources import Sources
from riskmodel.bundle import FLAGGED, ModelBundle, TierPolicy
from riskmodel.explain import Explainer
from riskmodel.input_counts import COUNT_COLUMNS, REPORT_COLUMNS, compare, input_counts
from riskmodel.ranking import TIE_BREAK, list_order, tie_break_values
from riskmodel.rules import REASON_FLOOR
from schooldata.calendar import Calendar
from schooldata.dataset import DatabaseReader, school_homes
from schooldata.db import read_table, reading, upgrade
from schooldata.partitions import Partition, largest_first
from schooldata.tables import TABLES
from serving import store
from serving.reasons import ReasonRules, ReasonTexts, first_steps

CHUNK = 2000
STALE_AFTER_SCHOOL_DAYS = 5  # the default of EWS_STALE_AFTER_SCHOOL_DAYS
# What ranking and the week's change need of every student; the rest is stored batch by batch.
RANK_COLUMNS = ["student_id", "school_id", "advisor_id", "raw_score", "risk", "tier", *TIE_BREAK]


class Scorer:
    """A loaded model with its explainer and catalog: turns feature rows into results."""

    def __init__(self, bundle: ModelBundle, version: str) -> None:
        self.bundle = bundle
        self.version = version
        self.explainer = Explainer(bundle)
        self.catalog: dict[str, FeatureSpec] = specs_from_entries(bundle.catalog)
        self.medians: dict[str, float] = bundle.metadata.get("medians", {})
        self.reason_rules = ReasonRules.of(
            bundle.features,
            self.catalog,
            self.medians,
            floor=REASON_FLOOR if bundle.kind == "abc_rule" else 0.0,
        )
        # Rendered reason texts, kept from batch to batch (a run's students share most).
        self.texts = ReasonTexts(self.catalog)

    def __getstate__(self) -> dict[str, Any]:
        # Sent to the workers of a run: scoring there needs the explainer's tables, not
        # the LightGBM trees, whose unpickling alone would import LightGBM in each worker.
        explainer = self.explainer.travelling()
        return self.__dict__ | {
            "bundle": explainer.bundle,
            "explainer": explainer,
            "texts": ReasonTexts(self.catalog),
        }

    @property
    def features(self) -> list[str]:
        return self.bundle.features

    @property
    def calibrated(self) -> bool:
        """Whether the risk is a calibrated probability (the ABC rule's is a share of flags)."""
        return bool(self.bundle.metadata.get("calibrated", True))

    @property
    def kind(self) -> str:
        """What ranks: ``lightgbm``, ``logistic`` or ``abc_rule``."""
        return self.bundle.kind

    def score(self, rows: pd.DataFrame, stored: bool = False) -> pd.DataFrame:
        """Risk, tier, exact contributions, reasons and next step for each row.

        Args:
            rows: feature rows; every model input must be a column (NaN when unknown).
            stored: contributions and reasons as the JSON text a run stores.
        """
        terms = rows["term"].to_numpy() if "term" in rows else None
        values = _ColumnRows({c: rows[c].to_numpy() for c in rows.columns})
        columns = self.explain_columns(self.bundle.matrix(rows), values, terms, stored)
        return pd.DataFrame(columns, index=rows.index)

    def rank_columns(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``RANK_COLUMNS`` of feature rows: their raw scores and risks as ``score`` gives
        them, without the contributions and reasons."""
        raw = self.explainer.raw_scores(self.bundle.matrix(rows))
        terms = rows["term"].to_numpy() if "term" in rows else None
        risk = self.bundle.calibration.apply(raw, terms)
        return rows[["student_id", "school_id", "advisor_id"]].assign(
            raw_score=raw,
            risk=risk,
            tier=[str(t) for t in self.bundle.tiers.by_risk(risk)],
            **tie_break_values(rows),
        )[RANK_COLUMNS]

    def explain_rows(
        self,
        matrix: np.ndarray,
        values: Sequence[Mapping[Any, Any]],
        terms: np.ndarray | None = None,
    ) -> list[dict[str, Any]]:
        """The same results for a matrix of model inputs, without pandas, one dict a row.

        Args:
            matrix: one row per student, columns in ``self.features`` order.
            values: each row's feature values by id, for the reason texts (context values
                such as ``school_days_20d`` may be there too).
            terms: each row's term number, for the season's calibration (None: unknown).

        The tier here is by the model's global cut-offs; a weekly run re-tiers each
        school's students by their rank in it (``TierPolicy.by_rank``).
        """
        columns = self.explain_columns(matrix, values, terms)
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]

    def explain_columns(
        self,
        matrix: np.ndarray,
        values: Sequence[Mapping[Any, Any]],
        terms: np.ndarray | None = None,
        stored: bool = False,
    ) -> dict[str, list[Any]]:
        """``explain_rows`` as one list per result field; with ``stored``, contributions and
        reasons are the JSON text a run stores (``store.contributions_text``)."""
        explanation = self.explainer.explain(matrix)
        risk = self.bundle.calibration.apply(explanation.raw_score, terms)
        # Row by row below: C order keeps each row's values together.
        matrix, shap = np.ascontiguousarray(matrix), np.ascontiguousarray(explanation.contributions)
        chosen = self.reason_rules.indices(matrix, shap)
        steps = first_steps(chosen, self.features, self.catalog)
        found = self.texts.of_batch(values, matrix, shap, chosen, self.features)
        reasons: list[Any]
        if stored:
            contributions: list[Any] = [
                store.contributions_text(x, c) for x, c in zip(matrix, shap, strict=True)
            ]
            reasons = found.as_stored()
        else:
            contributions = [
                store.contribution_list(self.features, x, c)
                for x, c in zip(matrix, shap, strict=True)
            ]
            reasons = found.as_dicts()
        return {
            "risk": risk.tolist(),
            "tier": [str(t) for t in self.bundle.tiers.by_risk(risk)],
            "raw_score": explanation.raw_score.tolist(),
            "base_value": np.asarray(explanation.base_value, dtype=float).tolist(),
            "contributions": contributions,
            "reasons": reasons,
            "suggested_step_th": [step[0] if step else None for step in steps],
            "suggested_step_en": [step[1] if step else None for step in steps],
        }


class _ColumnRows(Sequence[Mapping[str, Any]]):
    """A frame's rows as read-only mappings over its column arrays, built on demand (a
    reason names one or two of a row's seventy values)."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns
        self.length = len(next(iter(columns.values()))) if columns else 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: Any) -> Any:
        if not isinstance(i, int):
            raise TypeError("rows are read one at a time")
        if not 0 <= i < self.length:
            raise IndexError(i)
        return _ColumnRow(self.columns, i)


class _ColumnRow(Mapping[str, Any]):
    def __init__(self, columns: dict[str, np.ndarray], i: int) -> None:
        self.columns = columns
        self.i = i

    def __getitem__(self, key: str) -> Any:
        return self.columns[key][self.i]

    def get(self, key: str, default: Any = None) -> Any:
        column = self.columns.get(key)
        return default if column is None else column[self.i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


@dataclass
class WeeklyRunReport:
    run_id: int
    as_of: pd.Timestamp
    model_version: str
    students: int
    replaced: bool
    seconds: dict[str, float]
    schools: pd.DataFrame  # features.freshness.COLUMNS and "scored": who was left out, why
    drift: pd.DataFrame  # riskmodel.input_counts.REPORT_COLUMNS

    @property
    def stale(self) -> pd.DataFrame:
        return self.schools[self.schools["stale"]]


class NothingToScore(ValueError):
    """Nothing is loaded yet, no student is enrolled on the date, or every school's data
    is stale."""


# A new service before any school's files: the week is skipped, not failed and retried.
NOTHING_LOADED = (
    "no enrolments in the database: nothing to score until the schools' files are loaded "
    "(ews ingest, or a data officer's upload page)"
)


def weekly_run(
    engine: sa.Engine,
    scorer: Scorer,
    as_of: pd.Timestamp,
    *,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    partitions: Sequence[Partition] | None = None,
    client: Any = None,
    stale_after: int = STALE_AFTER_SCHOOL_DAYS,
    school: str | None = None,
) -> WeeklyRunReport:
    """Score every enrolled student of every school whose data is fresh, and store the run.

    Args:
        engine: the operational database, where the run is stored.
        scorer: the model.
        as_of: the date.
        on_progress: called with (done, total): students in a whole run; in a
            partitioned one, tasks, twice the partitions (each one scored, then
            explained).
        partitions: score partition by partition (``schooldata.partitions``), on the
            Dask ``client``'s workers when one is given, else here in turn. The
            features, scores and explanations are the same as a whole run's. Rank
            first, then explain: each partition's task computes features and scores,
            and only the columns ranking needs come here; its feature rows are kept in
            a temporary file (on Dask, on its worker) for a second task, which explains
            them, queued behind the remaining scoring tasks. Once every student is
            ranked, the store writes each partition's results as they arrive (those
            explained before, from the temporary folder) while the workers explain the
            next. So the run's memory does not grow with the explanations of the whole
            country, and the store, which must wait for the ranks, overlaps the
            explanations instead of following them.
        stale_after: a school whose newest attendance is more than this many school days
            before ``as_of`` is stale: left out of the run (``features.freshness``).
        school: score this school alone and put its list into the run of ``as_of`` with
            the same scorer in place of the one there (after a data officer's upload);
            with no such run, the whole week is run. Its students' records at other
            schools are read too, so the features are a whole run's.

    Raises:
        NothingToScore: nothing is loaded, no student is enrolled on the date, or every
            school is stale.
    """
    upgrade(engine)
    if not _anything_loaded(engine, partitions):
        raise NothingToScore(NOTHING_LOADED)
    if school is not None and partitions is None:
        with reading(engine) as connection:
            known = connection.execute(
                sa.select(TABLES["enrollments"].c.school_id)
                .where(TABLES["enrollments"].c.school_id == school)
                .limit(1)
            ).first()
            week = store.run_of(connection, as_of.date(), scorer.version)
        if known is None:
            raise NothingToScore(f"no school {school!r} has enrolments in the data")
        if week is not None:
            return _rerun_school(
                engine, scorer, as_of, school, run_id=week, stale_after=stale_after
            )
    timings: dict[str, float] = {}
    work: dict[str, float] = {}  # summed over a partitioned run's tasks
    results: Iterable[pd.DataFrame]  # every scored row with its explanation, batch by batch
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="ews-weekly-run-") as spool,  # partitioned runs
        contextlib.ExitStack() as stack,
    ):
        if partitions is None:  # the whole country as one partition, here
            whole, rows = scored_sources(
                lambda: Sources.for_weekly_run(engine, as_of),
                scorer,
                as_of,
                stale_after=stale_after,
            )
            keys, fresh, counts = whole.keys, whole.schools, whole.counts
            timings |= whole.seconds
            started = time.perf_counter()
            results = [score_rows(scorer, rows, on_progress)] if len(rows) else []
            timings["explain"] = time.perf_counter() - started
        else:
            parts = partition_counts(partitions, client)
            # The largest (by students enrolled this year) first.
            order = largest_first(partitions, enrolled_in_year(parts, as_of))
            timings["school_counts"] = time.perf_counter() - started
            started = time.perf_counter()
            # Each partition's explaining task queues behind the remaining scoring tasks:
            # a worker the last scoring tasks leave idle explains.
            rounds = stack.enter_context(
                contextlib.closing(
                    two_rounds(
                        score_partition,
                        [partitions[i] for i in order],
                        explain_partition,
                        client,
                        spool=Path(spool),
                        on_progress=on_progress,
                        first_shared={
                            "scorer": scorer,
                            "as_of": as_of,
                            "counts": add_counts(parts),
                            "stale_after": stale_after,
                        },
                        second_shared={"scorer": scorer},
                    )
                )
            )
            keys, fresh, counts, early = _scores(rounds, len(partitions), work, Path(spool))
            timings["partitions"] = time.perf_counter() - started
            # Students enrolled at a stale school of another partition.
            keys = keys[~keys["school_id"].isin(fresh.loc[fresh["stale"], "school_id"])]
            # The store writes those explained already, then the others as they come.
            results = _explained(early, rounds, work)
        if fresh.empty:
            raise NothingToScore(_nobody_enrolled(engine, as_of))
        if keys.empty:
            raise NothingToScore(
                f"every school's data is stale on {as_of.date()}: attendance stops more than "
                f"{stale_after} school days before it. Load the newest files and run again."
            )
        started = time.perf_counter()
        drift = compare(scorer.bundle, counts)
        schools = fresh.assign(
            scored=fresh["school_id"].map(keys["school_id"].value_counts()).fillna(0).astype(int)
        )
        timings["drift"] = time.perf_counter() - started
        started = time.perf_counter()
        ranked = _rank(keys, scorer.bundle.tiers, scorer.calibrated)
        ranked = _change(ranked, store.previous_ranks(engine, as_of.date()))
        run_id, replaced = store.store_run(
            engine,
            ranked,
            results,
            as_of.date(),
            version=scorer.version,
            schools=schools,
            drift=drift,
            features=scorer.features,
            scorer=scorer.kind,
        )
        timings["store" if partitions is None else "explain_and_store"] = (
            time.perf_counter() - started
        )
        # Work done, which on several workers exceeds wall time.
        timings.update({f"{stage}_work": seconds for stage, seconds in work.items()})
    return WeeklyRunReport(
        run_id, as_of, scorer.version, len(ranked), replaced, timings, schools, drift
    )


def _rerun_school(
    engine: sa.Engine,
    scorer: Scorer,
    as_of: pd.Timestamp,
    school: str,
    *,
    run_id: int,
    stale_after: int,
) -> WeeklyRunReport:
    """One school's list of a stored week recomputed (``weekly_run`` with ``school``)."""
    started = time.perf_counter()
    reader = DatabaseReader(engine, schools=school_homes(engine, school))
    # The school as a partition of its own (its students' records elsewhere read too).
    part, rows = scored_sources(
        lambda: Sources.for_weekly_run(reader, as_of),
        scorer,
        as_of,
        stale_after=stale_after,
        own_schools=[school],
    )
    fresh = part.schools
    if fresh.empty:
        raise NothingToScore(f"nobody is enrolled at school {school} on {as_of.date()}")
    rows = rows[(rows["school_id"] == school).to_numpy()].reset_index(drop=True)
    scored = score_rows(scorer, rows) if len(rows) else pd.DataFrame(columns=RANK_COLUMNS)
    ranked = (
        _rank(
            scored.assign(**tie_break_values(rows))[RANK_COLUMNS],
            scorer.bundle.tiers,
            scorer.calibrated,
        )
        if len(rows)
        else scored
    )
    if len(rows):
        ranked = _change(ranked, store.previous_ranks(engine, as_of.date()))
    schools = fresh.assign(scored=len(ranked))
    store.replace_school(
        engine, run_id, school, ranked, results=[scored] if len(rows) else [], schools=schools
    )
    return WeeklyRunReport(
        run_id,
        as_of,
        scorer.version,
        len(ranked),
        True,
        {"school": time.perf_counter() - started},
        schools,
        pd.DataFrame(columns=REPORT_COLUMNS),
    )


def _nobody_enrolled(engine: sa.Engine, as_of: pd.Timestamp) -> str:
    """Which terms the data holds, for the message of a date with nobody enrolled."""
    enrollments = TABLES["enrollments"]
    with reading(engine) as connection:
        held = connection.execute(
            sa.select(enrollments.c.academic_year, enrollments.c.term)
            .distinct()
            .order_by(enrollments.c.academic_year, enrollments.c.term)
        ).all()
    calendar = Calendar.build(
        read_table(engine, "calendar"), sorted({int(year) for year, _ in held})
    )
    every = calendar.table[calendar.table["school_id"] == ""]
    dates = {
        (int(year), int(term)): (pd.Timestamp(start).date(), pd.Timestamp(end).date())
        for year, term, start, end in every[
            ["academic_year", "term", "start_date", "end_date"]
        ].itertuples(index=False)
    }
    spans = []
    for year, term in held:
        start, end = dates[(int(year), int(term))]
        spans.append(f"{year} term {term} ({start} to {end})")
    return (
        f"no student is enrolled on {as_of.date()} (a holiday, a date typed wrong, or a "
        f"term whose enrolments are not loaded yet). The data holds: "
        + ("; ".join(spans) if spans else "no enrolments at all")
    )


def _anything_loaded(engine: sa.Engine, partitions: Sequence[Partition] | None) -> bool:
    """Whether any enrolment is stored where the run reads them: the partitions' sources
    (a dataset, or the database they name), else ``engine``, the database the run is
    stored in."""
    if partitions:
        return partitions[0].reader().holds("enrollments")
    with reading(engine) as connection:
        loaded = connection.execute(sa.select(TABLES["enrollments"].c.school_id).limit(1))
        return loaded.first() is not None


def _scores(
    rounds: Iterator[Done], partitions: int, work: dict[str, float], spool: Path
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[Path]]:
    """Every partition's scores from ``rounds`` (``two_rounds`` of ``score_partition`` and
    ``explain_partition``), adding their work to ``work``; the explanations done by then
    go to files in ``spool``.

    Returns the ranking columns, the school freshness and drift counts (which add up,
    being by school) and the files of the explanations done."""
    keys: list[pd.DataFrame] = []
    fresh: list[pd.DataFrame] = []
    enrolled: list[pd.DataFrame] = []
    counts: list[pd.DataFrame] = []
    early: list[Path] = []
    work |= {"features": 0.0, "score": 0.0, "explain": 0.0}
    scored = 0
    while scored < partitions:
        done = next(rounds)
        if done.round == 2:
            early.append(spool / f"explained-{done.index:06d}.arrow")
            early[-1].write_bytes(_explained_bytes(done.value, work))
            continue
        part: PartitionScores = done.value
        scored += 1
        for stage in ("features", "score"):
            work[stage] += part.seconds[stage]
        fresh.append(part.schools)
        enrolled.append(part.enrolled)
        counts.append(part.counts)
        if not part.keys.empty:
            keys.append(part.keys)
    return (
        pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(columns=RANK_COLUMNS),
        _enrolled(_concat(fresh, FRESHNESS_COLUMNS), enrolled),
        _concat(counts, COUNT_COLUMNS),
        early,
    )


def _explained(
    early: list[Path], rounds: Iterator[Done], work: dict[str, float]
) -> Iterator[pd.DataFrame]:
    """Each partition's scored rows with their explanations: those in ``early``'s files,
    then the rest from ``rounds`` as each is done (adding its work to ``work``)."""
    for path in early:
        yield feather.read_feather(path)
    for done in rounds:
        results = _explained_bytes(done.value, work)
        if results:
            yield feather.read_feather(pa.BufferReader(results))


def _explained_bytes(explained: tuple[bytes, float], work: dict[str, float]) -> bytes:
    results, seconds = explained
    work["explain"] += seconds
    return results


def _enrolled(fresh: pd.DataFrame, enrolled: list[pd.DataFrame]) -> pd.DataFrame:
    """The schools' freshness with each one's students enrolled counted over every
    partition (a school's movers-in are scored with their first school's partition)."""
    if fresh.empty:
        return fresh
    total = pd.concat(enrolled, ignore_index=True).groupby("school_id")["enrolled"].sum()
    return fresh.assign(enrolled=fresh["school_id"].map(total).astype(fresh["enrolled"].dtype))


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    kept = [f for f in frames if not f.empty]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=columns)


def score_rows(
    scorer: Scorer,
    rows: pd.DataFrame,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    chunk: int = CHUNK,
) -> pd.DataFrame:
    """Identity columns and results of feature rows; contributions and reasons as JSON.

    ``chunk`` rows at a time, reporting progress after each."""
    parts = []
    for start in range(0, len(rows), chunk):
        parts.append(scorer.score(rows.iloc[start : start + chunk], stored=True))
        on_progress(min(start + chunk, len(rows)), len(rows))
    results = pd.concat(parts) if parts else pd.DataFrame(index=rows.index)
    return pd.concat(
        [rows[["student_id", "school_id", "advisor_id", "classroom", "grade_level"]], results],
        axis=1,
    )


@dataclass(frozen=True)
class PartitionScores:
    keys: pd.DataFrame  # the scored rows' RANK_COLUMNS
    seconds: dict[str, float]
    schools: pd.DataFrame  # features.freshness.COLUMNS, of the partition's own schools
    # school_id, enrolled: the partition's students enrolled at each school, wherever
    enrolled: pd.DataFrame
    counts: pd.DataFrame  # riskmodel.input_counts.COUNT_COLUMNS


def score_partition(
    partition: Partition,
    scorer: Scorer,
    as_of: pd.Timestamp,
    counts: pd.DataFrame,
    stale_after: int = STALE_AFTER_SCHOOL_DAYS,
) -> tuple[PartitionScores, bytes]:
    """Features and scores of one partition's enrolled students at fresh schools, with the
    partition's school freshness and drift counts; and the feature rows, for
    ``explain_partition`` once the run has ranked every partition's students.

    The rows travel as an uncompressed Arrow IPC file's bytes (empty: nobody scored).
    """
    scores, rows = scored_sources(
        lambda: weekly_sources(partition, as_of, counts),
        scorer,
        as_of,
        stale_after=stale_after,
        own_schools=partition.schools,
    )
    return scores, _ipc(rows) if len(rows) else b""


def scored_sources(
    read: Callable[[], Sources],
    scorer: Scorer,
    as_of: pd.Timestamp,
    *,
    stale_after: int = STALE_AFTER_SCHOOL_DAYS,
    own_schools: Sequence[str] | None = None,
) -> tuple[PartitionScores, pd.DataFrame]:
    """Features and scores of the enrolled students at fresh schools in the sources
    ``read`` gives (a partition's, or the whole country's), with the school freshness of
    ``own_schools`` (None: every school) and the drift counts; and the feature rows, to
    explain once every student is ranked. Reading counts as the features' time."""
    started = time.perf_counter()
    sources = read()
    rows = features_as_of(sources, as_of)
    # A partition's own schools: a student who moved in from another partition's school
    # is enrolled here at a school whose freshness that partition judges. How many are
    # enrolled at each school is counted over every partition (``_enrolled``).
    everywhere = school_freshness(sources, as_of, stale_after, enrolled=rows)
    enrolled = everywhere[["school_id", "enrolled"]]
    fresh = everywhere
    if own_schools is not None:
        fresh = everywhere[everywhere["school_id"].isin(own_schools)].reset_index(drop=True)
    rows = rows[~rows["school_id"].isin(fresh.loc[fresh["stale"], "school_id"])]
    rows = rows.reset_index(drop=True)
    seconds = {"features": time.perf_counter() - started}
    started = time.perf_counter()
    keys = scorer.rank_columns(rows) if len(rows) else pd.DataFrame(columns=RANK_COLUMNS)
    seconds["score"] = time.perf_counter() - started
    counts = input_counts(scorer.bundle, rows, _raw_scores(keys))
    return PartitionScores(keys, seconds, fresh, enrolled, counts), rows


def explain_partition(rows: Any, scorer: Scorer) -> tuple[bytes, float]:
    """The stored results (``score_rows``) of a partition's feature rows kept by
    ``score_partition`` (``core.cluster.two_rounds``), as Arrow IPC bytes (empty: nobody
    scored), and the seconds taken.

    Written in the worker, so the process that stores them neither unpickles millions of
    strings nor converts them again (uncompressed: a third of the time Parquet with Snappy
    takes to write and read, twice its size).
    """
    started = time.perf_counter()
    data = kept_bytes(rows)
    if not data:
        return b"", time.perf_counter() - started
    frame = feather.read_feather(pa.BufferReader(data))
    # In one piece: a task is a partition's worth of memory anyway, and each piece costs
    # frames and conversions of its own (a fifth of the work in pieces of 2,000).
    results = _ipc(score_rows(scorer, frame, chunk=len(frame)).reset_index(drop=True))
    return results, time.perf_counter() - started


def _ipc(frame: pd.DataFrame) -> bytes:
    """A frame as an uncompressed Arrow IPC file's bytes (``feather.read_feather`` reads it)."""
    sink = pa.BufferOutputStream()
    feather.write_feather(frame, sink, compression="uncompressed")
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _raw_scores(scored: pd.DataFrame) -> np.ndarray | None:
    """The scored rows' raw scores, in their order (None: nobody scored)."""
    return scored["raw_score"].to_numpy(dtype=float) if len(scored) else None


def _rank(scored: pd.DataFrame, tiers: TierPolicy, calibrated: bool = True) -> pd.DataFrame:
    """Ranks in school and advisor group, tiers (``TierPolicy.by_rank``; students share a
    tier when they share a risk, or, for an uncalibrated rule, a raw score), and each
    student's risk against their school's average this week."""
    # Rank by the raw score (calibration keeps the order but can tie students), then by
    # the list's tie-break (``riskmodel.ranking``).
    order = scored.iloc[list_order(scored["raw_score"].to_numpy(dtype=float), scored)]
    rank_in_school = order.groupby("school_id").cumcount().reindex(scored.index) + 1
    school = scored.groupby("school_id")["risk"]
    size = school.transform("size").to_numpy()
    mean_risk = school.transform("mean").to_numpy()
    return scored.assign(
        rank_in_school=rank_in_school,
        rank_in_advisor=order.groupby(["school_id", "advisor_id"], dropna=False)
        .cumcount()
        .reindex(scored.index)
        + 1,
        tier=tiers.by_rank(
            scored["risk"].to_numpy(dtype=float),
            rank_in_school.to_numpy(),
            size,
            scored["school_id"].to_numpy(),
            ties=None if calibrated else scored["raw_score"].to_numpy(dtype=float),
        ),
        # A school whose every risk is 0 (the rule, before any mark) has no ratio.
        risk_vs_school=np.divide(
            scored["risk"].to_numpy(dtype=float),
            mean_risk,
            out=np.full(len(scored), np.nan),
            where=mean_risk > 0,
        ),
    )


def _change(scored: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Each student's change since the previous run, by tier: ``new`` on the list (high
    or watch) this week, ``up`` or ``down`` a tier, else ``same`` (a rank moving within
    a tier is not news to an advisor)."""
    merged = scored.merge(previous, on=["school_id", "student_id"], how="left")
    was_on = merged["previous_tier"].isin(FLAGGED)
    is_on = merged["tier"].isin(FLAGGED)
    level = {"low": 0, "watch": 1, "high": 2}
    now = merged["tier"].map(level)
    then = merged["previous_tier"].map(level)
    merged["change"] = np.select(
        [is_on & ~was_on, then.notna() & (now > then), then.notna() & (now < then)],
        ["new", "up", "down"],
        "same",
    )
    return merged.drop(columns=["previous_tier"]).set_axis(scored.index)
