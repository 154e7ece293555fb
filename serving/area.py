"""What an area office follows across its schools: risk, action and stale data.

Counts only: an area office never sees a student's name, risk or reasons, except the
students whose case a school referred outside it (to social services or health), which
the area office follows with the agencies; those reads are audited like any other. An
analyst sees the same figures for every school, and no name.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import TypeAdapter

from riskmodel.bundle import FLAGGED
from schooldata.actions import in_force
from schooldata.calendar import thai_term_of
from schooldata.db import (
    among,
    among_parameter,
    among_students_parameter,
    reading,
    students_parameters,
)
from schooldata.identity import UNLINKED_PREFIX
from schooldata.tables import TABLES, run_schools, score_runs, student_returns, student_scores
from serving.access import StudentKey, record_reads
from serving.accounts import Caller, User
from serving.records import FOLLOW_RETURNED_TERMS, names_of
from serving.schemas import AreaSchool, AreaSummary, ReferredCase, TrendPoint

ACTION_WINDOW = timedelta(days=30)
REFERRAL_WINDOW = timedelta(days=90)
REFERRED_OUTSIDE = ("external_referral", "health_referral")
CLOSED_OUTCOMES = ("refused", "moved")
TREND_WEEKS = 8
AREA_ROLES = ("area", "analyst")

# A stored score and an intervention of the same school's student.
_SAME_STUDENT = (TABLES["interventions"].c.school_id == student_scores.c.school_id) & (
    TABLES["interventions"].c.student_id == student_scores.c.student_id
)


class NotAnAreaUser(PermissionError):
    """The caller follows no set of schools."""


def _weeks(connection: sa.Connection, count: int) -> list[Any]:
    """The newest run of each of the last ``count`` weeks, newest first."""
    return list(connection.execute(_WEEKS, {"count": count}).all())


_WEEKS = (
    sa.select(score_runs.c.as_of, sa.func.max(score_runs.c.run_id).label("run_id"))
    .group_by(score_runs.c.as_of)
    .order_by(score_runs.c.as_of.desc())
    .limit(sa.bindparam("count"))
)


def _schools_filter(
    connection: sa.Connection, column: sa.ColumnElement[Any], schools: Sequence[str] | None
) -> Any:
    return sa.true() if schools is None else among(connection, column, schools)


def _followed(dialect: str, column: sa.ColumnElement[Any], every: bool) -> Any:
    """Rows of the schools ``:schools`` (a statement built once; ``every``: no filter)."""
    return sa.true() if every else among_parameter(dialect, column, "schools")


@functools.cache
def _statements(dialect: str, every: bool) -> dict[str, sa.Select[Any]]:
    """The area page's statements for a dialect, for every school or the ``:schools``
    (built once: an area office opens this page every week, an analyst more often)."""
    interventions, exits = TABLES["interventions"], TABLES["exits"]
    schools, students = TABLES["schools"], TABLES["students"]
    not_corrected = in_force(interventions)
    as_of = sa.bindparam("as_of", type_=sa.Date)
    # A student referred outside the school in the 90 days to the week, the referral not
    # closed: the area office's rows and the analyst's count alike. On the week's list or
    # not: a child who has left school since is the one the agencies most need to reach,
    # and stays until the school closes the referral or its 90 days pass.
    referred = (
        _followed(dialect, interventions.c.school_id, every)
        & interventions.c.type.in_(REFERRED_OUTSIDE)
        & (interventions.c.date > sa.bindparam("referred_since", type_=sa.Date))
        & (interventions.c.date <= as_of)
        & sa.func.coalesce(interventions.c.outcome, "").not_in(CLOSED_OUTCOMES)
        & not_corrected
    )
    return {
        "runs": sa.select(
            run_schools.c.run_id,
            run_schools.c.school_id,
            run_schools.c.enrolled,
            run_schools.c.scored,
            run_schools.c.stale,
            run_schools.c.newest_attendance,
            run_schools.c.high,
            run_schools.c.watch,
            run_schools.c.new_on_list,
        ).where(
            run_schools.c.run_id.in_(sa.bindparam("runs", expanding=True))
            & _followed(dialect, run_schools.c.school_id, every)
        ),
        "acted": sa.select(
            student_scores.c.school_id,
            sa.func.count(sa.distinct(student_scores.c.student_id)),  # one school each
        )
        .join(interventions, _SAME_STUDENT)
        .where(
            (student_scores.c.run_id == sa.bindparam("run"))
            & (student_scores.c.tier == "high")
            & _followed(dialect, student_scores.c.school_id, every)
            & (interventions.c.date > sa.bindparam("since", type_=sa.Date))
            & (interventions.c.date <= as_of)
            & not_corrected
        )
        .group_by(student_scores.c.school_id),
        "referrals": sa.select(
            interventions.c.school_id,
            interventions.c.student_id,
            student_scores.c.tier,  # none: not on the week's list
            interventions.c.date,
            interventions.c.type,
            interventions.c.outcome,
        )
        .select_from(interventions)
        .outerjoin(student_scores, _SAME_STUDENT & (student_scores.c.run_id == sa.bindparam("run")))
        .where(referred)
        # Each school's newest first, in an order that pages do not reshuffle.
        .order_by(
            interventions.c.school_id, interventions.c.date.desc(), interventions.c.student_id
        ),
        # The same students counted by school, without reading their rows (the area
        # page; an analyst's is a country's thousands of referrals).
        "referral_counts": sa.select(
            interventions.c.school_id, sa.func.count(sa.distinct(interventions.c.student_id))
        )
        .where(referred)
        .group_by(interventions.c.school_id),
        # How the children no longer on the week's list left (their school's newest exit).
        "exits": sa.select(
            exits.c.school_id, exits.c.student_id, exits.c.exit_date, exits.c.exit_type
        )
        .where(
            among_students_parameter(dialect, exits.c.school_id, exits.c.student_id)
            & (exits.c.exit_date <= as_of)
        )
        .order_by(exits.c.exit_date),
        "names": sa.select(schools.c.school_id, schools.c.name).where(
            _followed(dialect, schools.c.school_id, every)
        ),
        "returned": sa.select(
            student_returns.c.school_id,
            sa.func.count(),
            sa.func.count(student_returns.c.left_again_on),
        )
        .where(
            (student_returns.c.academic_year * 2 + student_returns.c.term > sa.bindparam("since"))
            & _followed(dialect, student_returns.c.school_id, every)
        )
        .group_by(student_returns.c.school_id),
        # Students whose ID another student carries, of their school in the same term or
        # of another on the same days (``schooldata.identity.shared_ids``): a key of their
        # own though they have an ID.
        "shared_ids": sa.select(students.c.school_id, sa.func.count())
        .where(
            # "s:" up to "s;", the next after ":": a range the key's index finds.
            (students.c.person_id >= UNLINKED_PREFIX)
            & (students.c.person_id < "s;")
            & students.c.national_id_hash.is_not(None)
            & _followed(dialect, students.c.school_id, every)
        )
        .group_by(students.c.school_id),
    }


def area_summary(
    engine: sa.Engine,
    caller: Caller,
    *,
    follow_terms: int = FOLLOW_RETURNED_TERMS,
    with_trends: bool = True,
    with_referred: bool = True,
) -> AreaSummary | None:
    """The figures of the caller's schools in the latest week (None: nothing scored yet),
    with the children each school follows after they came back (within ``follow_terms``
    terms of the week) and how many of them left again. ``with_trends``: each school's
    last eight weeks too (else empty: a page that shows fifty schools of a thousand asks
    ``school_trends`` for those fifty). ``with_referred``: an area office's referred
    children by name too (``referred_cases``; else empty: the area page counts them, and
    names them a page at a time on a page of their own). An analyst sees no name."""
    if caller.user.role not in AREA_ROLES:
        raise NotAnAreaUser("only an area office or an analyst sees area figures")
    schools = caller.user.schools if caller.user.role == "area" else None
    with reading(engine) as connection:
        weeks = _weeks(connection, 2)
        if not weeks:
            return None
        statement = _statements(connection.dialect.name, schools is None)
        followed_ids = {} if schools is None else {"schools": list(schools)}
        latest, previous = weeks[0], (weeks[1] if len(weeks) > 1 else None)
        fresh = {
            str(r.school_id): r
            for r in connection.execute(
                statement["runs"], {"runs": [latest.run_id]} | followed_ids
            ).all()
        }
        counts = _tier_counts(connection, [w.run_id for w in weeks], schools)
        if fresh and all(r.new_on_list is not None for r in fresh.values()):
            new_on_list = {school: int(r.new_on_list) for school, r in fresh.items()}
        else:  # a run stored before its counts were kept
            new_on_list = _new_on_list(connection, latest.run_id, schools)
        window = _window(latest)
        acted: dict[str, int] = dict(
            connection.execute(statement["acted"], window | followed_ids).all()
        )
        open_referrals = {
            str(school): int(count)
            for school, count in connection.execute(
                statement["referral_counts"], window | followed_ids
            )
        }
        names = {
            str(school): str(name)
            for school, name in connection.execute(statement["names"], followed_ids).all()
            if name
        }
        year, term = thai_term_of(latest.as_of)
        returned = {
            str(school): (int(back), int(again or 0))
            for school, back, again in connection.execute(
                statement["returned"], {"since": year * 2 + term - follow_terms} | followed_ids
            ).all()
        }
        shared_ids: dict[str, int] = {
            str(school): int(count)
            for school, count in connection.execute(statement["shared_ids"], followed_ids).all()
        }
    followed = sorted(schools if schools is not None else {s for _, s in counts} | set(fresh))
    trends = school_trends(engine, caller.user, followed) if with_trends else {}
    figures = []
    for school in followed:
        now = counts.get((latest.run_id, school), {})
        before = counts.get((previous.run_id, school)) if previous is not None else None
        state = fresh.get(school)
        scored = int(state.scored) if state is not None else sum(now.values())
        figures.append(
            {
                "school_id": school,
                "name": names.get(school),
                "enrolled": int(state.enrolled) if state is not None else scored,
                "scored": scored,
                "high": now.get("high", 0),
                "watch": now.get("watch", 0),
                "high_change": (now.get("high", 0) - before.get("high", 0)) if before else None,
                "new_on_list": int(new_on_list.get(school, 0)),
                "high_with_action_30d": int(acted.get(school, 0)),
                "open_referrals": open_referrals.get(school, 0),
                "returned_followed": returned.get(school, (0, 0))[0],
                "returned_left_again": returned.get(school, (0, 0))[1],
                "shared_ids": shared_ids.get(school, 0),
                # Not in the week's run: nobody enrolled there this term (its files
                # have not come), the stalest data of all.
                "stale": bool(state.stale) if state is not None else True,
                "newest_attendance": state.newest_attendance if state is not None else None,
                "trend": trends.get(school, []),
            }
        )
    referred: list[ReferredCase] = []
    if with_referred and caller.user.role == "area":
        referred = referred_cases(engine, caller).cases
    return AreaSummary(
        as_of=latest.as_of,
        previous_as_of=previous.as_of if previous is not None else None,
        # One validation of every school (fifty schools' eight-week trends, one by one,
        # were a fifth of the page's time).
        schools=_SCHOOLS.validate_python(figures),
        referred=referred,
    )


def school_trends(
    engine: sa.Engine, user: User, school_ids: Sequence[str]
) -> dict[str, list[TrendPoint]]:
    """Each school's counts on the list (high, watch) in the last eight weekly runs,
    oldest first: of the caller's schools among ``school_ids`` only."""
    if user.role not in AREA_ROLES:
        raise NotAnAreaUser("only an area office or an analyst sees area figures")
    asked = tuple(s for s in school_ids if user.role != "area" or s in user.schools)
    if not asked:
        return {}
    with reading(engine) as connection:
        weeks = _weeks(connection, TREND_WEEKS)
        counts = _tier_counts(connection, [w.run_id for w in weeks], asked)
    return {
        school: [
            TrendPoint(as_of=w.as_of, high=week.get("high", 0), watch=week.get("watch", 0))
            for w in reversed(weeks)
            if (week := counts.get((w.run_id, school))) is not None
        ]
        for school in asked
    }


_SCHOOLS = TypeAdapter(list[AreaSchool])


def totals(schools: Sequence[AreaSchool]) -> dict[str, int]:
    """The area's figures summed over its schools (the first row of its page)."""
    keys = (
        "scored",
        "enrolled",
        "high",
        "watch",
        "new_on_list",
        "high_with_action_30d",
        "open_referrals",
        "returned_followed",
        "returned_left_again",
        "shared_ids",
    )
    found = {key: sum(int(getattr(s, key)) for s in schools) for key in keys}
    found["schools"] = len(schools)
    found["stale"] = sum(1 for s in schools if s.stale)
    changes = [s.high_change for s in schools if s.high_change is not None]
    found["high_change"] = sum(changes) if changes else 0
    return found


def _tier_counts(
    connection: sa.Connection, run_ids: list[int], schools: Sequence[str] | None
) -> dict[tuple[int, str], dict[str, int]]:
    """High and watch counts by run and school (``schools``; None: every school): as the
    weekly run stored them, or counted from the stored rows for runs stored before their
    counts were kept (before migration 0009)."""
    counts: dict[tuple[int, str], dict[str, int]] = {}
    counted: set[int] = set()
    for run_id, school_id, high, watch in connection.execute(
        sa.select(
            run_schools.c.run_id, run_schools.c.school_id, run_schools.c.high, run_schools.c.watch
        ).where(
            run_schools.c.run_id.in_(run_ids)
            & run_schools.c.high.is_not(None)
            & _schools_filter(connection, run_schools.c.school_id, schools)
        )
    ).all():
        counted.add(int(run_id))
        counts[(int(run_id), str(school_id))] = {"high": int(high), "watch": int(watch or 0)}
    uncounted = [run for run in run_ids if run not in counted]
    if not uncounted:
        return counts
    by_rows: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for run_id, school_id, tier, n in connection.execute(
        sa.select(
            student_scores.c.run_id,
            student_scores.c.school_id,
            student_scores.c.tier,
            sa.func.count(),
        )
        .where(
            student_scores.c.run_id.in_(uncounted)
            & _schools_filter(connection, student_scores.c.school_id, schools)
        )
        .group_by(student_scores.c.run_id, student_scores.c.school_id, student_scores.c.tier)
    ).all():
        by_rows[(int(run_id), str(school_id))][str(tier)] = int(n)
    return counts | dict(by_rows)


def _new_on_list(
    connection: sa.Connection, run_id: int, schools: tuple[str, ...] | None
) -> dict[str, int]:
    return dict(
        connection.execute(
            sa.select(student_scores.c.school_id, sa.func.count())
            .where(
                (student_scores.c.run_id == run_id)
                & (student_scores.c.change == "new")
                & student_scores.c.tier.in_(FLAGGED)
                & _schools_filter(connection, student_scores.c.school_id, schools)
            )
            .group_by(student_scores.c.school_id)
        ).all()
    )


class ReferredPage(NamedTuple):
    """A page of an area office's referred children: how many there are in all, the
    page's, and the names of the schools asked for."""

    as_of: date | None
    total: int
    cases: list[ReferredCase]
    school_names: dict[str, str]


def referred_cases(
    engine: sa.Engine,
    caller: Caller,
    *,
    school: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> ReferredPage:
    """The students whom the area office's schools (or one of them, ``school``) referred
    outside in the 90 days to the latest week, the referral not closed: one row each,
    their newest open referral, by school and newest first; those from ``offset`` (at
    most ``limit``) with their names, their tier on the week's list, and for one not on
    it how they left (their school's newest exit to the week, if recorded). Only the
    rows returned are read (audited). Only an area office sees them: an analyst sees
    counts."""
    if caller.user.role != "area":
        raise NotAnAreaUser("only an area office sees the children its schools referred")
    schools = [s for s in caller.user.schools if school is None or s == school]
    with reading(engine) as connection:
        weeks = _weeks(connection, 1)
        if not weeks or not schools:
            return ReferredPage(weeks[0].as_of if weeks else None, 0, [], {})
        statement = _statements(connection.dialect.name, False)
        rows = connection.execute(
            statement["referrals"], _window(weeks[0]) | {"schools": schools}
        ).all()
        school_names = {
            str(school_id): str(name)
            for school_id, name in connection.execute(statement["names"], {"schools": schools})
            if name
        }
        newest: dict[StudentKey, Any] = {}
        for r in rows:  # newest first within each school
            newest.setdefault(StudentKey(r.school_id, r.student_id), r)
        shown = list(newest.items())[offset : None if limit is None else offset + limit]
        names = names_of(connection, [key for key, _ in shown])
        exited = _newest_exits(
            connection, statement, weeks[0].as_of, [key for key, r in shown if r.tier is None]
        )
    record_reads(engine, caller, [key for key, _ in shown])
    return ReferredPage(
        weeks[0].as_of,
        len(newest),
        [
            ReferredCase(
                student_id=r.student_id,
                name=names.get(key),
                school_id=r.school_id,
                date=r.date,
                type=r.type,
                outcome=r.outcome,
                tier=r.tier,
                on_list=r.tier is not None,
                exit_date=exited[key].exit_date if key in exited else None,
                exit_type=exited[key].exit_type if key in exited else None,
            )
            for key, r in shown
        ],
        school_names,
    )


def _newest_exits(
    connection: sa.Connection,
    statement: dict[str, sa.Select[Any]],
    as_of: date,
    keys: Sequence[StudentKey],
) -> dict[StudentKey, Any]:
    """Each of these students' newest exit from their school up to ``as_of``, if any."""
    if not keys:
        return {}
    rows = connection.execute(
        statement["exits"],
        {"as_of": as_of} | students_parameters(connection.dialect.name, keys),
    )
    return {StudentKey(e.school_id, e.student_id): e for e in rows}  # oldest first: newest kept


def _window(week: Any) -> dict[str, Any]:
    """The windows the area's statements count in, to a week's run."""
    return {
        "run": week.run_id,
        "as_of": week.as_of,
        "since": week.as_of - ACTION_WINDOW,
        "referred_since": week.as_of - REFERRAL_WINDOW,
    }
