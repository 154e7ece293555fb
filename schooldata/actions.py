"""The help recorded for a student: which records are in force, and each student's last
action, kept as help is written.

A record of help (a visit, a call, a referral) is corrected by a later record naming it
in ``corrects``: the corrected one is void. A student's last action is the latest date
of their records in force. The actions pages ask it of every flagged student of a
country; read from the records, that is a pass over every record of help ever written,
which grows every year. So ``last_actions`` keeps it, and every path that writes or
removes help keeps it in step, in its own transaction (``keep_last_actions``): a record
or a correction made by the pages or the API, a record withdrawn, an upload of a
school's records and its undo.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from schooldata.db import hold_lock

# Schools a statement names at most (an upload names one; a country's load, all).
_SCHOOLS_AT_ONCE = 500
_LOCK = 0x4557534C  # "EWSL": the key every writer of last actions waits on


def in_force(table: sa.Table) -> sa.ColumnElement[bool]:
    """Records of help no later record corrects (a corrected one is void)."""
    later = table.alias("later")
    return ~sa.exists().where(later.c.corrects == table.c.intervention_id)


def keep_last_actions(
    connection: sa.Connection,
    *,
    student: tuple[str, str] | None = None,
    schools: Iterable[str] = (),
) -> None:
    """Work out again, from the records in force, the last action of one student, or of
    every student of ``schools``, inside the caller's transaction, after its writes of
    help. Call it before anything that appends to the audit log: its lock comes first.

    The transaction then holds a lock to its end, so that two of them work it out one
    after the other, the second seeing what the first committed; else the later to
    commit could keep a last action that misses the other's record. PostgreSQL: an
    advisory lock. SQLite: the database's write lock, which the caller's writes hold.
    """
    from schooldata.tables import TABLES, last_actions

    interventions = TABLES["interventions"]
    hold_lock(connection, _LOCK)
    if student is not None:
        school, code = student
        parts: list[tuple[Any, Any]] = [
            (
                (last_actions.c.school_id == school) & (last_actions.c.student_id == code),
                (interventions.c.school_id == school) & (interventions.c.student_id == code),
            )
        ]
    else:
        named = sorted(set(schools))
        parts = [
            (last_actions.c.school_id.in_(chunk), interventions.c.school_id.in_(chunk))
            for chunk in (
                named[i : i + _SCHOOLS_AT_ONCE] for i in range(0, len(named), _SCHOOLS_AT_ONCE)
            )
        ]
    for kept, held in parts:
        connection.execute(sa.delete(last_actions).where(kept))
        latest = (
            sa.select(
                interventions.c.school_id,
                interventions.c.student_id,
                sa.func.max(interventions.c.date),
            )
            .where(held & in_force(interventions))
            .group_by(interventions.c.school_id, interventions.c.student_id)
        )
        connection.execute(
            sa.insert(last_actions).from_select(["school_id", "student_id", "day"], latest)
        )
