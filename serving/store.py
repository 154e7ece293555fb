"""The weekly scores in the operational database: one home for reading and writing runs.

A run is one week's scores with one model version (``score_runs``); its rows are every
enrolled student's result (``student_scores``). Re-running a week with the same model
replaces the run in one transaction, so a crash leaves the previous complete run intact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from riskmodel.bundle import FLAGGED
from riskmodel.ranking import DEFAULT_CAPACITY
from schooldata.db import hold_lock, insert_columns, insert_rows, keyed_insert, reading
from schooldata.tables import (
    TABLES,
    first_flags,
    plan_orders,
    run_drift,
    run_schools,
    score_runs,
    student_scores,
)
from serving.reasons import steps_for_flagged

# A row of a flagged student, its tiers written into the statement as the partial index
# ix_student_scores_flagged states them: SQLite reads a partial index only for a
# condition it can compare, not a bound value (1.2 s, not 16 ms, on the demo's data).
ON_A_LIST = student_scores.c.tier.in_(
    sa.bindparam("flagged", list(FLAGGED), expanding=True, literal_execute=True)
)

# What the run decides across students (ranks, tiers, change), not per student.
RANK_COLUMNS = [
    "rank_in_school",
    "rank_in_advisor",
    "tier",
    "risk_vs_school",
    "change",
    "previous_rank_in_school",
]


def contributions_text(inputs: np.ndarray, shap: np.ndarray) -> str:
    """A student's contributions as stored: inputs and SHAP values in the order of the
    run's features (``score_runs.features``, stored once a run); a NaN input is null.

    Earlier runs stored the names in every row, as a list of ``{"feature", "value",
    "shap"}`` objects or as one list per field; ``read_contributions`` reads all three.
    """
    stored = {"value": inputs, "shap": shap}
    return orjson.dumps(stored, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def contribution_list(
    features: Sequence[str], inputs: np.ndarray, shap: np.ndarray
) -> list[dict[str, Any]]:
    """A student's contributions as the API shows them, one object per input."""
    return [
        {"feature": f, "value": None if math.isnan(v) else v, "shap": c}
        for f, v, c in zip(features, inputs.tolist(), shap.tolist(), strict=True)
    ]


def read_contributions(text: str, features: Sequence[str] | None) -> list[dict[str, Any]]:
    """Stored contributions, with the names of their run's features (``run_features``)."""
    stored = orjson.loads(text)
    if isinstance(stored, list):
        return stored
    names = stored.get("feature", features)
    if names is None:
        raise ValueError("stored contributions without their run's feature names")
    return [
        {"feature": f, "value": v, "shap": c}
        for f, v, c in zip(names, stored["value"], stored["shap"], strict=True)
    ]


def run_features(connection: sa.Connection, run_id: int) -> list[str] | None:
    """The names of a run's stored contributions (None: each row holds its own)."""
    return feature_names(
        connection.execute(
            sa.select(score_runs.c.features).where(score_runs.c.run_id == run_id)
        ).scalar()
    )


def feature_names(stored: str | None) -> list[str] | None:
    """``score_runs.features`` as a list (None: each row holds its own names)."""
    return None if stored is None else list(orjson.loads(stored))


def reasons_text(reasons: list[dict[str, Any]]) -> str:
    """A student's reasons as stored (UTF-8 JSON: the Thai is kept as written)."""
    return orjson.dumps(reasons).decode()


def latest_run(connection: sa.Connection, as_of: date | None = None) -> Any:
    """The newest run on or before ``as_of`` (any date when None), or None."""
    if as_of is None:
        return connection.execute(_NEWEST_RUN).first()
    return connection.execute(_NEWEST_RUN_BY, {"as_of": as_of}).first()


def first_run_date(connection: sa.Connection) -> date | None:
    """The date of the oldest run, or None before any."""
    first: date | None = connection.execute(sa.select(sa.func.min(score_runs.c.as_of))).scalar()
    return first


# Every page asks for the newest run: its statement is built once.
_NEWEST_RUN = (
    sa.select(score_runs).order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc()).limit(1)
)
_NEWEST_RUN_BY = _NEWEST_RUN.where(score_runs.c.as_of <= sa.bindparam("as_of", type_=sa.Date))


def run_school(connection: sa.Connection, run_id: int, school_id: str) -> dict[str, Any] | None:
    """A school's row of a run (``run_schools``: its freshness, whether it was left out)."""
    row = connection.execute(_RUN_SCHOOL, {"run": run_id, "school": school_id}).mappings().first()
    return dict(row) if row is not None else None


def run_classrooms(
    connection: sa.Connection, run_id: int, school_id: str, advisor_id: str | None = None
) -> list[str]:
    """The classrooms of a school's (or one advisor's) students in a run, sorted."""
    if advisor_id is None:
        found = connection.execute(_CLASSROOMS, {"run": run_id, "school": school_id})
    else:
        found = connection.execute(
            _ADVISOR_CLASSROOMS, {"run": run_id, "school": school_id, "advisor": advisor_id}
        )
    return sorted(c for c in found.scalars() if c)


# Every list and plan page asks these: built once.
_RUN_SCHOOL = sa.select(run_schools).where(
    (run_schools.c.run_id == sa.bindparam("run"))
    & (run_schools.c.school_id == sa.bindparam("school"))
)
_CLASSROOMS = (
    sa.select(student_scores.c.classroom)
    .distinct()
    .where(
        (student_scores.c.run_id == sa.bindparam("run"))
        & (student_scores.c.school_id == sa.bindparam("school"))
    )
)
_ADVISOR_CLASSROOMS = _CLASSROOMS.where(student_scores.c.advisor_id == sa.bindparam("advisor"))


def previous_ranks(engine: sa.Engine, as_of: date) -> pd.DataFrame:
    """Ranks and tiers of the latest run strictly before ``as_of`` (any model version)."""
    columns = ["school_id", "student_id", "previous_rank_in_school", "previous_tier"]
    with reading(engine) as connection:
        run = connection.execute(
            sa.select(score_runs.c.run_id)
            .where(score_runs.c.as_of < as_of)
            .order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc())
            .limit(1)
        ).scalar()
        if run is None:
            return pd.DataFrame(columns=columns)
        result = connection.execute(
            sa.select(
                student_scores.c.school_id,
                student_scores.c.student_id,
                student_scores.c.rank_in_school,
                student_scores.c.tier,
            ).where(student_scores.c.run_id == run)
        )
        return pd.DataFrame(result.all(), columns=columns)


def run_rows(
    connection: sa.Connection,
    run_id: int,
    *,
    school_id: str | None = None,
    advisor_id: str | None = None,
    tiers: Sequence[str] | None = None,
    classroom: str | None = None,
    rank_by: str = "rank_in_school",
    limit: int | None = None,
    excluding: sa.Select[Any] | None = None,
    offset: int = 0,
    contributions: bool = False,
) -> Sequence[Any]:
    """Rows of one run, filtered, in rank order (by school then rank when unfiltered),
    with each student's names (``given_name``, ``family_name``; None when unknown).

    ``excluding`` is a query of student codes of ``school_id`` to leave out (say, those
    visited lately). The contributions (a row's largest column) are read only when asked
    for.
    """
    columns = [c for c in student_scores.c if contributions or c.name != "contributions"]
    query = (
        sa.select(*columns, _STUDENTS.c.given_name, _STUDENTS.c.family_name)
        .select_from(student_scores.outerjoin(_STUDENTS, _SAME_STUDENT))
        .where(student_scores.c.run_id == run_id)
    )
    if excluding is not None:
        query = query.where(student_scores.c.student_id.not_in(excluding))
    if school_id is not None:
        query = query.where(student_scores.c.school_id == school_id)
    if advisor_id is not None:
        query = query.where(student_scores.c.advisor_id == advisor_id)
    if tiers:
        query = query.where(student_scores.c.tier.in_(list(tiers)))
    if classroom:
        query = query.where(student_scores.c.classroom == classroom)
    query = query.order_by(student_scores.c.school_id, student_scores.c[rank_by])
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return connection.execute(query).all()


def student_rows(connection: sa.Connection, student: tuple[str, str]) -> Sequence[Any]:
    """Every stored result of one school's student (school, code) with its run's date and
    the student's names, oldest first."""
    school_id, student_id = student
    return connection.execute(
        sa.select(
            student_scores,
            score_runs.c.as_of,
            score_runs.c.features.label("run_features"),
            score_runs.c.model_version,
            score_runs.c.scorer,
            _STUDENTS.c.given_name,
            _STUDENTS.c.family_name,
        )
        .join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
        .outerjoin(_STUDENTS, _SAME_STUDENT)
        .where(
            (student_scores.c.school_id == school_id) & (student_scores.c.student_id == student_id)
        )
        .order_by(score_runs.c.as_of, score_runs.c.run_id)
    ).all()


_STUDENTS = TABLES["students"]
_SAME_STUDENT = (_STUDENTS.c.school_id == student_scores.c.school_id) & (
    _STUDENTS.c.student_id == student_scores.c.student_id
)


class RunReplaced(RuntimeError):
    """A school's list was made for a week's run that another run has replaced since."""


_RUNS_LOCK = 0x45575352  # "EWSR": the key every writer of a week's run waits on
_RUN_EXISTS = sa.select(score_runs.c.run_id).where(score_runs.c.run_id == sa.bindparam("run"))


def store_run(
    engine: sa.Engine,
    ranked: pd.DataFrame,
    results: Iterable[pd.DataFrame],
    as_of: date,
    *,
    version: str,
    schools: pd.DataFrame | None = None,
    drift: pd.DataFrame | None = None,
    features: Sequence[str] | None = None,
    scorer: str | None = None,
) -> tuple[int, bool]:
    """Replace the run of this week and model in one transaction.

    Args:
        engine: the operational database.
        ranked: every student's ranks and change (``student_id`` and ``RANK_COLUMNS``).
        results: the rest of their results, one batch at a time.
        as_of: the week.
        version: the model version.
        schools: each school's freshness and whether it was scored (``run_schools``).
        drift: the run's inputs against the training reference (``run_drift``).
        features: the model's inputs, in the order of the stored contributions.
        scorer: what made the list (``ModelBundle.kind``).

    Returns:
        The run's id and whether an earlier run of the same week and model was replaced.
    """
    ranks = ranked[RANK_COLUMNS].reset_index(drop=True)
    ranked_ids = _student_index(ranked)
    with engine.begin() as connection:
        # Two runs of one week at once (the scheduler's and a typed `ews score`): the
        # second waits, then replaces the first's. Both read "no run yet" and the second
        # broke the week's key, a failure after minutes of work.
        hold_lock(connection, _RUNS_LOCK)
        existing = connection.execute(
            sa.select(score_runs.c.run_id).where(
                (score_runs.c.as_of == as_of) & (score_runs.c.model_version == version)
            )
        ).scalar()
        if existing is not None:
            for table in (student_scores, run_schools, run_drift):
                connection.execute(sa.delete(table).where(table.c.run_id == existing))
            connection.execute(sa.delete(score_runs).where(score_runs.c.run_id == existing))
        run_id = connection.execute(
            sa.insert(score_runs).values(
                as_of=as_of,
                model_version=version,
                created_at=datetime.now(UTC).replace(tzinfo=None),
                students=len(ranked),
                features=None if features is None else orjson.dumps(list(features)).decode(),
                scorer=scorer,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        for names, rows in _rows(results, ranked_ids, ranks, int(run_id)):
            insert_columns(connection, student_scores, names, rows)
        note_first_flags(connection, int(run_id), as_of)
        if schools is not None and not schools.empty and "school_id" in ranked:
            schools = schools.drop(columns=COUNT_COLUMNS, errors="ignore").merge(
                list_counts(ranked), on="school_id", how="left"
            )
        if schools is not None and not schools.empty:
            schools = _with_capacity(connection, schools)
        for table, frame in ((run_schools, schools), (run_drift, drift)):
            if frame is not None and not frame.empty:
                insert_rows(connection, table, _plain_records(frame, table, int(run_id)))
    return int(run_id), existing is not None


def note_first_flags(
    connection: sa.Connection, run_id: int, as_of: date, school_id: str | None = None
) -> None:
    """Keep, for each student this run flags (of one school), the first week a stored
    list flagged them: this week, unless an earlier one did (a week may be scored after
    later ones). A list made again keeps what the one it replaced recorded: people may
    have read it."""
    flagged = sa.select(
        student_scores.c.school_id,
        student_scores.c.student_id,
        sa.literal(as_of, sa.Date).label("as_of"),
    ).where((student_scores.c.run_id == run_id) & ON_A_LIST)
    if school_id is not None:
        flagged = flagged.where(student_scores.c.school_id == school_id)
    insert = keyed_insert(connection, first_flags).from_select(
        ["school_id", "student_id", "as_of"], flagged
    )
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["school_id", "student_id"],
            set_={"as_of": insert.excluded.as_of},
            where=insert.excluded.as_of < first_flags.c.as_of,
        )
    )


def run_of(connection: sa.Connection, as_of: date, version: str) -> int | None:
    """The run of a week by a scorer version, if stored."""
    found = connection.execute(
        sa.select(score_runs.c.run_id).where(
            (score_runs.c.as_of == as_of) & (score_runs.c.model_version == version)
        )
    ).scalar()
    return None if found is None else int(found)


def replace_school(
    engine: sa.Engine,
    run_id: int,
    school_id: str,
    ranked: pd.DataFrame,
    *,
    results: Iterable[pd.DataFrame],
    schools: pd.DataFrame,
) -> None:
    """Put one school's list (``store_run``'s arguments for that school alone) into a
    stored run in place of the one there, in one transaction. An empty ``ranked`` (the
    school still stale) leaves it out, its freshness stored."""
    ranks = ranked.reindex(columns=RANK_COLUMNS).reset_index(drop=True)
    with engine.begin() as connection:
        hold_lock(connection, _RUNS_LOCK)  # not while the week's run is replaced
        if connection.execute(_RUN_EXISTS, {"run": run_id}).first() is None:
            raise RunReplaced(
                f"the week's run {run_id} was made again while school {school_id}'s list "
                "was: its list is the new run's; make it again if its files came since"
            )
        for table in (student_scores, run_schools):
            connection.execute(
                sa.delete(table).where(
                    (table.c.run_id == run_id) & (table.c.school_id == school_id)
                )
            )
        for names, rows in _rows(results, _student_index(ranked), ranks, run_id):
            insert_columns(connection, student_scores, names, rows)
        as_of = connection.execute(
            sa.select(score_runs.c.as_of).where(score_runs.c.run_id == run_id)
        ).scalar_one()
        note_first_flags(connection, run_id, as_of, school_id)
        counted = schools.drop(columns=COUNT_COLUMNS, errors="ignore")
        if len(ranked):
            counted = counted.merge(list_counts(ranked), on="school_id", how="left")
        counted = _with_capacity(connection, counted)
        insert_rows(connection, run_schools, _plain_records(counted, run_schools, run_id))
        total = connection.execute(
            sa.select(sa.func.count()).where(student_scores.c.run_id == run_id)
        ).scalar()
        connection.execute(
            sa.update(score_runs).where(score_runs.c.run_id == run_id).values(students=total)
        )


def _rows(
    results: Iterable[pd.DataFrame], ranked_ids: pd.Index, ranks: pd.DataFrame, run_id: int
) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """Each batch of results with its students' ranks, as rows to insert (``_columns``);
    the students not ranked (at stale schools) are left out."""
    for batch in results:
        position = ranked_ids.get_indexer(_student_index(batch))
        kept = position >= 0
        if not kept.any():
            continue
        batch = pd.concat(
            [
                batch[kept].drop(columns=RANK_COLUMNS, errors="ignore").reset_index(drop=True),
                ranks.iloc[position[kept]].reset_index(drop=True),
            ],
            axis=1,
        )
        yield _columns(steps_for_flagged(batch), run_id)


def _student_index(frame: pd.DataFrame) -> pd.Index:
    """A frame's students (school, code) as one index (object strings: looking a hundred
    thousand up is a hash probe each)."""
    school = frame["school_id"].to_numpy(dtype=object)
    code = frame["student_id"].to_numpy(dtype=object)
    index: pd.Index = pd.Index(school + "\x1f" + code)
    return index


COUNT_COLUMNS = ["high", "watch", "new_on_list"]


def list_counts(ranked: pd.DataFrame) -> pd.DataFrame:
    """Each school's students in the high and watch tiers, and those of them new on the
    list this week (``school_id`` and ``COUNT_COLUMNS``)."""
    listed = ranked["tier"].isin(FLAGGED)
    flags = pd.DataFrame(
        {
            "school_id": ranked["school_id"].to_numpy(),
            "high": ranked["tier"].eq("high").to_numpy(),
            "watch": ranked["tier"].eq("watch").to_numpy(),
            "new_on_list": (listed & ranked["change"].eq("new")).to_numpy(),
        }
    )
    return flags.groupby("school_id", as_index=False)[COUNT_COLUMNS].sum()


def _columns(scored: pd.DataFrame, run_id: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A run's rows as plain Python values, built column by column (a country a week)."""
    texts = (
        "student_id",
        "school_id",
        "advisor_id",
        "classroom",
        "grade_level",
        "tier",
        "contributions",
        "reasons",
        "suggested_step_th",
        "suggested_step_en",
        "change",
    )
    columns: dict[str, list[Any]] = {c: _plain(scored[c]) for c in texts}
    for name in ("risk", "raw_score", "base_value", "risk_vs_school"):
        columns[name] = _plain(scored[name].astype(float))
    for name in ("rank_in_school", "rank_in_advisor", "previous_rank_in_school"):
        numbers = scored[name].astype(float)
        columns[name] = [None if v is None else int(v) for v in _plain(numbers)]
    columns["run_id"] = [run_id] * len(scored)
    # In the table's order: the order of an insert's parameters, so rows go as built.
    names = [c.name for c in student_scores.columns if c.name in columns]
    return names, list(zip(*(columns[n] for n in names), strict=True))


def _plain(values: pd.Series) -> list[Any]:
    """A column as Python values, None where missing."""
    plain = values.to_numpy(dtype=object, copy=True)
    plain[pd.isna(plain)] = None
    result: list[Any] = plain.tolist()
    return result


def _with_capacity(connection: sa.Connection, schools: pd.DataFrame) -> pd.DataFrame:
    """Each school's weekly home-visit capacity now (``visit_capacity``), as its plan
    reads it: ``DEFAULT_CAPACITY`` where the school set none."""
    table = TABLES["schools"]
    given = dict(
        connection.execute(
            sa.select(table.c.school_id, table.c.home_visit_capacity).where(
                table.c.home_visit_capacity.is_not(None)
            )
        ).all()
    )
    capacity = [int(given.get(school, DEFAULT_CAPACITY)) for school in schools["school_id"]]
    return schools.assign(visit_capacity=capacity)


def _plain_records(frame: pd.DataFrame, table: sa.Table, run_id: int) -> list[dict[str, Any]]:
    """Rows of ``frame`` as plain Python values of ``table``'s columns (NaT, NaN or a
    column the frame lacks: None). A count of an integer column is an ``int`` though its
    column holds a missing value (a stale school's tiers, counted as floats by pandas):
    PostgreSQL's ``COPY`` refuses "5.0" for an integer."""
    columns = [c.name for c in table.columns if c.name != "run_id"]
    integers = {c.name for c in table.columns if isinstance(c.type, sa.Integer)}
    framed = frame.reindex(columns=columns)
    plain = framed.astype(object).where(framed.notna(), None)
    records = []
    for row in plain.to_dict("records"):
        record: dict[str, Any] = {"run_id": run_id}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                value = value.date()
            elif isinstance(value, np.generic):
                value = value.item()
            if key in integers and isinstance(value, float):
                value = int(value)
            record[str(key)] = value
        records.append(record)
    return records


def benefit_order_schools(connection: sa.Connection) -> dict[str, datetime]:
    """Schools whose plan shows the benefit order too, and since when."""
    rows = connection.execute(
        sa.select(plan_orders.c.school_id, plan_orders.c.set_at).where(plan_orders.c.benefit_order)
    ).all()
    return {r.school_id: r.set_at for r in rows}
