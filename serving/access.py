"""Staff accounts, bearer tokens and need-to-know scopes.

An advisor sees only the students they advise (by ``advisor_id`` of the current
enrolment), a committee member their school, an analyst model and aggregate data only,
an admin accounts only. A student outside the caller's scope is reported exactly like a
student that does not exist. Tokens are shown once and stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from schooldata.db import upgrade
from schooldata.tables import TABLES, audit_log, users

ROLES = ("advisor", "committee", "analyst", "admin")
STUDENT_ROLES = ("advisor", "committee")


class AccountError(ValueError):
    """An account cannot be created as asked."""


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    role: str
    staff_id: str | None
    school_id: str | None

    @property
    def sees_students(self) -> bool:
        return self.role in STUDENT_ROLES


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    engine: sa.Engine,
    role: str,
    name: str,
    staff_id: str | None = None,
    school_id: str | None = None,
) -> tuple[User, str]:
    """Create an account; returns it and its token (which is not stored)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise AccountError("name must not be empty")
    if role == "advisor" and not staff_id:
        raise AccountError(
            "an advisor account needs --staff-id (the advisor_id of the enrolment data)"
        )
    if role == "committee" and not school_id:
        raise AccountError("a committee account needs --school")
    upgrade(engine)
    token = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        if school_id is not None:
            known = (
                connection.execute(
                    sa.select(TABLES["schools"].c.school_id).where(
                        TABLES["schools"].c.school_id == school_id
                    )
                ).first()
                or connection.execute(
                    sa.select(TABLES["enrollments"].c.school_id).where(
                        TABLES["enrollments"].c.school_id == school_id
                    )
                ).first()
            )
            if known is None:
                raise AccountError(f"no school {school_id!r} in the data")
        user_id = connection.execute(
            sa.insert(users).values(
                name=name,
                role=role,
                staff_id=staff_id,
                school_id=school_id,
                token_hash=_hash(token),
                created_at=datetime.now(UTC).replace(tzinfo=None),
                active=True,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return User(int(user_id), name, role, staff_id, school_id), token


def authenticate(engine: sa.Engine, token: str) -> User | None:
    """The active account holding this token, if any."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(users).where((users.c.token_hash == _hash(token)) & users.c.active)
        ).first()
    if row is None:
        return None
    return User(row.user_id, row.name, row.role, row.staff_id, row.school_id)


def current_placement(
    engine: sa.Engine, student_ids: list[str]
) -> dict[str, tuple[str, str | None]]:
    """Each student's school and advisor from their latest enrolment."""
    enrollments = TABLES["enrollments"]
    query = (
        sa.select(enrollments.c.student_id, enrollments.c.school_id, enrollments.c.advisor_id)
        .where(enrollments.c.student_id.in_(student_ids))
        .order_by(enrollments.c.academic_year, enrollments.c.term)
    )
    with engine.connect() as connection:
        return {
            row.student_id: (row.school_id, row.advisor_id) for row in connection.execute(query)
        }


def in_scope(user: User, school_id: str, advisor_id: str | None) -> bool:
    if user.role == "advisor":
        return advisor_id is not None and advisor_id == user.staff_id
    if user.role == "committee":
        return school_id == user.school_id
    return False


def visible_students(engine: sa.Engine, user: User, student_ids: list[str]) -> list[str]:
    """The given students this user may see (unknown ones are simply absent)."""
    if not user.sees_students:
        return []
    placement = current_placement(engine, student_ids)
    return [s for s in student_ids if s in placement and in_scope(user, *placement[s])]


def record_reads(engine: sa.Engine, user: User, student_ids: list[str], endpoint: str) -> None:
    """Append who read which student's record, when, and where."""
    if not student_ids:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(audit_log),
            [
                {"at": now, "user_id": user.user_id, "student_id": s, "endpoint": endpoint}
                for s in student_ids
            ],
        )
