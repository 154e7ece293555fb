"""Staff accounts: bearer tokens for integrations, passwords for people, sessions, limits.

Tokens are shown once, stored only as their SHA-256, expire (a year by default) and can
be revoked or rotated (``ews users``). Passwords are hashed with Argon2 and a new or
reset one must be changed at the first sign-in. A web session is a random id in a
signed cookie *and* a row here: signing out, revoking the account or deactivating it
ends every session at once. Failed sign-ins and bad tokens are limited per client and
per account, and every one is written to the audit log without the attempted secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItemPerMinute, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from core import clock
from schooldata import audit
from schooldata.contract import CLASSROOM_GROUP, fold_header
from schooldata.db import reading, upgrade
from schooldata.tables import TABLES, sessions, user_schools, users

if TYPE_CHECKING:
    from serving.access import StudentKey  # access reads accounts: only for the type

ROLES = ("advisor", "committee", "data_officer", "area", "analyst", "admin")
STUDENT_ROLES = ("advisor", "committee")
SCHOOL_ROLES = ("advisor", "committee", "data_officer")  # tied to one school
TOKEN_DAYS = 365
# A token used in the last RENEW_DAYS days that expires within RENEW_DAYS (or has): the
# admin page names it, so that an integration is given a new token before it stops.
RENEW_DAYS = 30
SESSION_HOURS = 8
MIN_PASSWORD = 10
USERNAME = re.compile(r"[a-z0-9._-]{3,40}")
PROVINCE_PREFIX = re.compile(r"^(?:จังหวัด|จ\.)")
_hasher = PasswordHasher()
# Failures allowed before a pause: per client address, and per account.
CLIENT_LIMIT = RateLimitItemPerMinute(20)
ACCOUNT_LIMIT = parse("10 per 15 minutes")


class AccountError(ValueError):
    """An account cannot be created or changed as asked."""


class TooManyAttempts(Exception):
    """Too many failed attempts from this client or on this account: wait and retry."""


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    role: str
    staff_id: str | None
    school_id: str | None
    username: str | None = None
    must_change_password: bool = False
    schools: tuple[str, ...] = field(default_factory=tuple)
    chair: bool = False  # chairs the school's care committee (reads restricted notes)

    @property
    def sees_students(self) -> bool:
        return self.role in STUDENT_ROLES


@dataclass(frozen=True)
class Caller:
    """Who is asking, and by which route: what every read and write of a child's record
    is audited under (the route as a template, "GET /students/{school_id}/{student_id}",
    never a path holding a code)."""

    user: User
    route: str
    # The students this request found in the caller's scope (``records.require_student``):
    # a page read in several parts checks a child once. One request's, never kept longer.
    in_scope: set[StudentKey] = field(default_factory=set, compare=False, repr=False)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: sa.Row[tuple[object, ...]], connection: sa.Connection) -> User:
    schools: tuple[str, ...] = ()
    if row.role == "area":
        listed = connection.execute(
            sa.select(user_schools.c.school_id).where(user_schools.c.user_id == row.user_id)
        ).scalars()
        of_province = _province_schools(connection, row.province) if row.province else []
        schools = tuple(sorted({*listed, *of_province}))
    return User(
        int(row.user_id),
        str(row.name),
        str(row.role),
        row.staff_id,
        row.school_id,
        row.username,
        bool(row.must_change_password),
        schools,
        bool(getattr(row, "chair", False)),
    )


def create_user(
    engine: sa.Engine,
    role: str,
    name: str,
    *,
    staff_id: str | None = None,
    school_id: str | None = None,
    username: str | None = None,
    token_days: int = TOKEN_DAYS,
    schools: Sequence[str] = (),
    province: str | None = None,
    actor: str = "cli",
    chair: bool = False,
) -> tuple[User, str]:
    """Create an account; returns it and its bearer token (which is not stored).

    Advisors need their school and advisor code; committee members and data officers
    their school; an area office the schools it follows, or its province (every school
    of it in the schools file, as each loads, the first ones too).
    """
    province = (province or "").strip() or None
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise AccountError("name must not be empty")
    if role == "advisor" and not (staff_id and school_id):
        raise AccountError(
            "an advisor account needs --school and --staff-id (the advisor_id of the "
            "enrolment data): two schools may use the same advisor code"
        )
    if role in SCHOOL_ROLES and not school_id:
        raise AccountError(f"a {role} account needs --school")
    if role not in SCHOOL_ROLES and (school_id or staff_id):
        raise AccountError(f"a {role} account is not tied to one school: leave out --school")
    if role == "area" and not (schools or province):
        raise AccountError("an area office account needs --schools or --province")
    if role != "area" and (schools or province):
        raise AccountError("only an area office account follows a set of schools")
    if chair and role != "committee":
        raise AccountError("only a committee member chairs the care committee")
    if username is not None and not USERNAME.fullmatch(username):
        raise AccountError(
            "a username is 3 to 40 lower-case letters, digits, dots, dashes or underscores"
        )
    upgrade(engine)
    token = secrets.token_urlsafe(32)
    try:
        with engine.begin() as connection:
            for school in [school_id, *schools]:
                if school is not None and not _school_known(connection, school):
                    raise AccountError(
                        f"no school {school!r} in the data: add it first (the admin page's "
                        "'add a school', or a schools file with ews ingest)"
                    )
            if (
                username
                and connection.execute(
                    sa.select(users.c.user_id).where(users.c.username == username)
                ).first()
            ):
                raise AccountError(f"the username {username!r} is taken")
            user_id = connection.execute(
                sa.insert(users).values(
                    name=name,
                    role=role,
                    staff_id=staff_id,
                    school_id=school_id,
                    username=username,
                    token_hash=_digest(token),
                    token_expires_at=_now() + timedelta(days=token_days),
                    created_at=_now(),
                    active=True,
                    chair=chair,
                    province=province,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if schools:
                connection.execute(
                    sa.insert(user_schools),
                    [{"user_id": user_id, "school_id": s} for s in sorted(set(schools))],
                )
            audit.append(
                connection,
                [
                    audit.Entry(
                        "account_created",
                        "create account",
                        actor=actor,
                        detail=f"user {user_id}, role {role}",
                    )
                ],
            )
    except sa.exc.IntegrityError as error:  # the same username made at the same moment?
        if username is None or find_by_username(engine, username) is None:
            raise
        raise AccountError(f"the username {username!r} is taken") from error
    created = find_user(engine, int(user_id))
    assert created is not None
    return created, token


def schools_of_province(engine: sa.Engine, province: str) -> list[str]:
    """The schools of a province (the ``schools`` file's province column) so far."""
    with reading(engine) as connection:
        return _province_schools(connection, province)


def _province_schools(connection: sa.Connection, province: str) -> list[str]:
    """The schools whose province is this one, however each file writes it (ลำปาง,
    จ.ลำปาง, จังหวัดลำปาง)."""
    schools = TABLES["schools"]
    wanted = _province_key(province)
    # Every sign-in of the account asks: the database finds the few rows naming it.
    named = PROVINCE_PREFIX.sub("", province.strip()).strip().lower()
    rows = connection.execute(
        sa.select(schools.c.school_id, schools.c.province).where(
            sa.func.lower(schools.c.province).contains(named, autoescape=True)
        )
    ).all()
    return sorted(str(r.school_id) for r in rows if _province_key(str(r.province)) == wanted)


def _province_key(name: str) -> str:
    return PROVINCE_PREFIX.sub("", fold_header(name))


def unassigned_classrooms(engine: sa.Engine) -> list[dict[str, Any]]:
    """Classroom groups (enrolments without an advisor) that no active advisor account
    holds yet, with their students this term: the admin gives each to its advisor."""
    enrollments = TABLES["enrollments"]
    latest = sa.select(
        sa.func.max(enrollments.c.academic_year * 10 + enrollments.c.term)
    ).scalar_subquery()
    with reading(engine) as connection:
        groups = connection.execute(
            sa.select(
                enrollments.c.school_id,
                enrollments.c.advisor_id,
                sa.func.count().label("students"),
            )
            .where(enrollments.c.advisor_id.like(f"{CLASSROOM_GROUP}%"))
            .where(enrollments.c.academic_year * 10 + enrollments.c.term == latest)
            .group_by(enrollments.c.school_id, enrollments.c.advisor_id)
            .order_by(enrollments.c.school_id, enrollments.c.advisor_id)
        ).all()
        held = set(
            connection.execute(
                sa.select(users.c.school_id, users.c.staff_id).where(
                    (users.c.role == "advisor") & users.c.active
                )
            ).all()
        )
    return [
        {"school_id": g.school_id, "group": g.advisor_id, "students": int(g.students)}
        for g in groups
        if (g.school_id, g.advisor_id) not in held
    ]


def accounts_for_classrooms(
    engine: sa.Engine, names: Callable[[str], str], actor: str
) -> list[dict[str, str]]:
    """An advisor's account for every classroom group nobody advises yet, in one step:
    each named ``names(group)`` (ครูประจำชั้น ม.1/1), signed in by a name made of the
    school and the classroom (1057010001-m1-1) with a temporary password to change at
    first sign-in. The accounts made, with their passwords, to hand over once."""
    with reading(engine) as connection:
        taken = set(connection.execute(sa.select(users.c.username)).scalars())
    issued = []
    for waiting in unassigned_classrooms(engine):
        school, group = str(waiting["school_id"]), str(waiting["group"])
        room = group.removeprefix(CLASSROOM_GROUP)
        base = re.sub(r"[^a-z0-9]+", "-", f"{school}-{room}".lower()).strip("-")[:36]
        username, n = base, 1
        while username in taken:
            n += 1
            username = f"{base}-{n}"
        taken.add(username)
        try:
            created, _ = create_user(
                engine,
                "advisor",
                names(group),
                staff_id=group,
                school_id=school,
                username=username,
                actor=actor,
            )
        except AccountError:
            if _advised(engine, school, group):  # issued by another sending at the same moment
                continue
            raise
        temporary = temporary_password()
        set_password(engine, created.user_id, temporary, actor, must_change=True)
        issued.append(
            {"school_id": school, "group": group, "username": username, "password": temporary}
        )
    return issued


def _advised(engine: sa.Engine, school: str, group: str) -> bool:
    """Whether an active advisor account holds the classroom group."""
    with reading(engine) as connection:
        return (
            connection.execute(
                sa.select(users.c.user_id).where(
                    (users.c.role == "advisor")
                    & users.c.active
                    & (users.c.school_id == school)
                    & (users.c.staff_id == group)
                )
            ).first()
            is not None
        )


def known_schools(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every school in the data (its code, name and province), for the admin's page."""
    schools = TABLES["schools"]
    with reading(engine) as connection:
        rows = connection.execute(
            sa.select(schools.c.school_id, schools.c.name, schools.c.province).order_by(
                schools.c.school_id
            )
        ).mappings()
        return [dict(r) for r in rows]


def list_users(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every account for the admin's page: no secret, only whether one is set."""
    upgrade(engine)
    with reading(engine) as connection:
        rows = connection.execute(sa.select(users).order_by(users.c.user_id)).mappings().all()
        followed = connection.execute(sa.select(user_schools)).all()
        provinces = {
            r["province"]: _province_schools(connection, r["province"])
            for r in rows
            if r["province"]
        }
    by_user: dict[int, list[str]] = {}
    for user_id, school in followed:
        by_user.setdefault(int(user_id), []).append(str(school))
    return [
        {
            "user_id": int(r["user_id"]),
            "name": r["name"],
            "role": r["role"],
            "username": r["username"],
            "school_id": r["school_id"],
            "staff_id": r["staff_id"],
            "schools": sorted(
                {*by_user.get(int(r["user_id"]), []), *provinces.get(r["province"], [])}
            ),
            "province": r["province"],
            "active": bool(r["active"]),
            "has_password": bool(r["password_hash"]),
            "must_change_password": bool(r["must_change_password"]),
            "token_expires_at": r["token_expires_at"],
            "token_used_on": r["token_used_on"],
            "created_at": r["created_at"],
        }
        for r in rows
    ]


def temporary_password() -> str:
    """A password to hand over once; the person sets their own at first sign-in."""
    return secrets.token_urlsafe(12)


def _school_known(connection: sa.Connection, school_id: str) -> bool:
    schools, enrollments = TABLES["schools"], TABLES["enrollments"]
    return bool(
        connection.execute(
            sa.select(schools.c.school_id).where(schools.c.school_id == school_id)
        ).first()
        or connection.execute(
            sa.select(enrollments.c.school_id).where(enrollments.c.school_id == school_id)
        ).first()
    )


# Every request asks one of these two; built once, they cost a lookup, not a query build.
_BY_TOKEN = sa.select(users).where(
    (users.c.token_hash == sa.bindparam("digest"))
    & users.c.active
    & ((users.c.token_expires_at.is_(None)) | (users.c.token_expires_at > sa.bindparam("now")))
)
_BY_SESSION = (
    sa.select(users)
    .join(sessions, sessions.c.user_id == users.c.user_id)
    .where(
        (sessions.c.session_hash == sa.bindparam("digest"))
        & sessions.c.ended_at.is_(None)
        & (sessions.c.expires_at > sa.bindparam("now"))
        & users.c.active
    )
)


def authenticate(engine: sa.Engine, token: str) -> User | None:
    """The active account holding this unexpired token, if any (asked of the database
    every time: a revoked or expired token stops working at once, in every process)."""
    with reading(engine) as connection:
        row = connection.execute(_BY_TOKEN, {"digest": _digest(token), "now": _now()}).first()
        if row is None:
            return None
        user = _user(row, connection)
    today = clock.today()
    if row.token_used_on is None or row.token_used_on < today:  # one write a day at most
        with engine.begin() as connection:
            connection.execute(
                sa.update(users)
                .where(
                    (users.c.user_id == user.user_id)
                    & (users.c.token_used_on.is_(None) | (users.c.token_used_on < today))
                )
                .values(token_used_on=today)
            )
    return user


def tokens_to_renew(engine: sa.Engine, days: int = RENEW_DAYS) -> list[dict[str, Any]]:
    """Active accounts whose token was used in the last ``days`` days and expires within
    ``days`` (or has expired since: the integration that used it now gets 401), soonest
    first. A token nobody uses is not named: people sign in with passwords."""
    today = clock.today()
    with reading(engine) as connection:
        rows = connection.execute(
            sa.select(
                users.c.user_id,
                users.c.name,
                users.c.username,
                users.c.role,
                users.c.token_expires_at,
                users.c.token_used_on,
            )
            .where(
                users.c.active
                & users.c.token_hash.is_not(None)
                & (users.c.token_used_on >= today - timedelta(days=days))
                & (users.c.token_expires_at <= _now() + timedelta(days=days))
            )
            .order_by(users.c.token_expires_at, users.c.user_id)
        ).mappings()
        return [dict(r) | {"expired": r["token_expires_at"] <= _now()} for r in rows]


def token_expired(engine: sa.Engine, token: str) -> bool:
    """Whether a refused token is an active account's, past its days (its holder is told
    to ask for a new one; an unknown or revoked token is told nothing more)."""
    with reading(engine) as connection:
        return (
            connection.execute(
                sa.select(users.c.user_id).where(
                    (users.c.token_hash == _digest(token))
                    & users.c.active
                    & (users.c.token_expires_at <= _now())
                )
            ).first()
            is not None
        )


def find_user(engine: sa.Engine, user_id: int) -> User | None:
    """An active account by its id."""
    with reading(engine) as connection:
        row = connection.execute(
            sa.select(users).where((users.c.user_id == user_id) & users.c.active)
        ).first()
        return _user(row, connection) if row is not None else None


def find_by_username(engine: sa.Engine, username: str) -> User | None:
    """An active account by its username (single sign-on matches on it)."""
    with reading(engine) as connection:
        row = connection.execute(
            sa.select(users).where((users.c.username == username) & users.c.active)
        ).first()
        return _user(row, connection) if row is not None else None


def revoke(engine: sa.Engine, user_id: int, actor: str) -> None:
    """Deactivate an account: its token stops working and its sessions end."""
    with engine.begin() as connection:
        changed = connection.execute(
            sa.update(users).where(users.c.user_id == user_id).values(active=False, token_hash=None)
        ).rowcount
        if not changed:
            raise AccountError(f"no account {user_id}")
        _end_sessions(connection, user_id)
        audit.append(
            connection,
            [audit.Entry("account_revoked", "revoke", actor=actor, detail=f"user {user_id}")],
        )


def rotate_token(engine: sa.Engine, user_id: int, actor: str, days: int = TOKEN_DAYS) -> str:
    """A new token for an account; the old one stops working at once."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        changed = connection.execute(
            sa.update(users)
            .where((users.c.user_id == user_id) & users.c.active)
            .values(
                token_hash=_digest(token),
                token_expires_at=_now() + timedelta(days=days),
                token_used_on=None,  # a new token, not yet in use
            )
        ).rowcount
        if not changed:
            raise AccountError(f"no active account {user_id}")
        audit.append(
            connection,
            [audit.Entry("token_rotated", "rotate", actor=actor, detail=f"user {user_id}")],
        )
    return token


# --------------------------------------------------------------------------- sessions


def start_session(engine: sa.Engine, user: User) -> str:
    """A new server-side session; returns the id the cookie carries."""
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(sessions).values(
                session_hash=_digest(session_id),
                user_id=user.user_id,
                created_at=_now(),
                expires_at=_now() + timedelta(hours=SESSION_HOURS),
            )
        )
    return session_id


def session_user(engine: sa.Engine, session_id: str) -> User | None:
    """The active account of a live session, if any."""
    with reading(engine) as connection:
        row = connection.execute(
            _BY_SESSION, {"digest": _digest(session_id), "now": _now()}
        ).first()
        return _user(row, connection) if row is not None else None


def end_session(engine: sa.Engine, session_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(sessions)
            .where(sessions.c.session_hash == _digest(session_id))
            .values(ended_at=_now())
        )


def _end_sessions(connection: sa.Connection, user_id: int) -> None:
    connection.execute(
        sa.update(sessions)
        .where((sessions.c.user_id == user_id) & sessions.c.ended_at.is_(None))
        .values(ended_at=_now())
    )


# --------------------------------------------------------------------------- passwords


def set_password(
    engine: sa.Engine, user_id: int, password: str, actor: str, must_change: bool
) -> None:
    """Set an account's password (a reset by an admin must be changed at first use)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    with engine.begin() as connection:
        changed = connection.execute(
            sa.update(users)
            .where(users.c.user_id == user_id)
            .values(password_hash=_hasher.hash(password), must_change_password=must_change)
        ).rowcount
        if not changed:
            raise AccountError(f"no account {user_id}")
        if must_change:  # a reset: whoever held the account before is signed out
            _end_sessions(connection, user_id)
        audit.append(
            connection,
            [audit.Entry("password_set", "password", actor=actor, detail=f"user {user_id}")],
        )


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def messages_of(engine: sa.Engine, user_id: int) -> tuple[str | None, bool]:
    """An account's e-mail address and whether it wants the weekly message."""
    with reading(engine) as connection:
        row = connection.execute(
            sa.select(users.c.email, users.c.notify).where(users.c.user_id == user_id)
        ).first()
    return (None, True) if row is None else (row.email, bool(row.notify))


def set_name(engine: sa.Engine, user_id: int, name: str, actor: str) -> None:
    """The name an account shows (a classroom's account made in one step is named by its
    room until its teacher gives their own), audited without the name.

    Raises:
        AccountError: the name is empty or too long.
    """
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise AccountError("name must not be empty" if not name else "name is too long")
    with engine.begin() as connection:
        connection.execute(sa.update(users).where(users.c.user_id == user_id).values(name=name))
        audit.append(
            connection,
            [audit.Entry("name_set", "account", actor=actor, detail=f"user {user_id}")],
        )


def set_messages(
    engine: sa.Engine, user_id: int, email: str | None, notify: bool, actor: str
) -> None:
    """Where an account's weekly message goes, and whether it is sent (audited, without
    the address).

    Raises:
        AccountError: the address is not an e-mail address.
    """
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or not EMAIL.match(email)):
        raise AccountError("the e-mail address is not valid (name@school.ac.th)")
    with engine.begin() as connection:
        connection.execute(
            sa.update(users).where(users.c.user_id == user_id).values(email=email, notify=notify)
        )
        audit.append(
            connection,
            [
                audit.Entry(
                    "messages_set",
                    "account",
                    actor=actor,
                    detail=f"user {user_id}: e-mail {'set' if email else 'none'}, "
                    f"messages {'on' if notify else 'off'}",
                )
            ],
        )


def check_password(engine: sa.Engine, username: str, password: str) -> User | None:
    """The active account with this username and password, if they match."""
    with reading(engine) as connection:
        row = connection.execute(
            sa.select(users).where((users.c.username == username) & users.c.active)
        ).first()
    if row is None or not row.password_hash:
        _hasher.hash(password)  # the same work as a real check: no timing tells
        return None
    try:
        _hasher.verify(str(row.password_hash), password)
    except (VerificationError, InvalidHashError):
        return None
    return find_user(engine, int(row.user_id))


# ----------------------------------------------------------------------------- limits


@dataclass
class Limiter:
    """Failed attempts per client address and per account, in this process."""

    limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )

    def check(self, client: str, account: str | None = None) -> None:
        """Raise ``TooManyAttempts`` when the client or the account is over its limit."""
        if not self.limiter.test(CLIENT_LIMIT, "client", client):
            raise TooManyAttempts("too many failed attempts from this address: wait a minute")
        if account and not self.limiter.test(ACCOUNT_LIMIT, "account", account):
            raise TooManyAttempts("too many failed attempts on this account: wait 15 minutes")

    def failed(self, client: str, account: str | None = None) -> None:
        self.limiter.hit(CLIENT_LIMIT, "client", client)
        if account:
            self.limiter.hit(ACCOUNT_LIMIT, "account", account)

    def token_refused(self, client: str) -> None:
        """Count a refused bearer token, and raise ``TooManyAttempts`` past the limit.

        Counted apart from sign-ins, and only for refused tokens: a school's staff share
        its address, and an integration left with an old token must not stop them signing
        in, nor refuse a valid token (a token cannot be guessed: 256 random bits).
        """
        if not self.limiter.hit(CLIENT_LIMIT, "token", client):
            raise TooManyAttempts("too many refused tokens from this address: wait a minute")
