"""The missing children's worklist as people work it: each school's cases and how long
they have been open, what staff found, notes only those who follow a case read, and the
area office's counts (names only of the cases referred outside the school).

Who sees which case: a committee member every case of their school; an advisor the
cases of the children they advised in the child's last term; an area office the counts
of its schools and, by name, the cases found and referred to an agency or not found and
forwarded; an analyst the counts of every school. Every read of a case and every change
is audited; a case outside the caller's scope is reported like one that does not exist.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import clock
from schooldata import audit
from schooldata.contract import REASON_CODES, REASON_WORDS, fold_header, reason_code_of
from schooldata.db import hold_lock, reading
from schooldata.missing import (
    DATA_CLOSED,
    HELP,
    NOBODY_TO_FIND,
    OPEN_STATUSES,
    REFERRED_OUTSIDE,
    STAFF_CLOSED,
    STAFF_STATUSES,
    STATUSES,
)
from schooldata.spreadsheet import FORMULA_START
from schooldata.tables import TABLES, missing_case_notes, missing_cases, users
from schooldata.validate import (
    DELIMITERS,
    TEXT_SUFFIXES,
    WORKBOOK_SUFFIXES,
    decode_csv_bytes,
    parse_dates,
)
from serving.access import StudentKey, record_reads, record_write
from serving.accounts import Caller, User
from serving.i18n import grade
from serving.once import Sent, first_time
from serving.records import ChangedSince, InvalidInput, NotVisible, names_of
from serving.schemas import MAX_RECORD_ID

# How long a case has been open, as the area office counts it (days).
AGE_BANDS = ((0, 30, "under_30"), (30, 90, "30_to_90"), (90, None, "over_90"))
CASE_ROLES = ("advisor", "committee", "area")
COUNT_ROLES = ("committee", "area", "analyst")


@dataclass
class Case:
    """A child to look for, as the caller may see them."""

    case_id: int
    school_id: str
    student_id: str
    name: str | None
    kind: str  # left (between terms) or transition (P6 or M3 to the next year)
    grade_level: str
    last_year: int
    last_term: int
    expected_year: int
    expected_term: int
    opened_on: date
    days_open: int
    status: str
    status_on: date
    owner_user_id: int | None
    owner: str | None
    reason_code: int | None
    help_needed: list[str]
    agency: str | None
    found_school_id: str | None
    found_on: date | None
    closed_on: date | None
    last_note: int = 0  # the number of its newest note, anyone's
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def version(self) -> str:
        """Its findings' mark (``mark``) and its newest note's number, as a form, a file
        or the API gives them out and a change sends them back."""
        return f"{mark(self)}n{self.last_note}"


@dataclass(frozen=True)
class CaseChange:
    """What a member of staff found: every field optional but the status."""

    status: str
    owner_user_id: int | None = None
    reason_code: int | None = None
    help_needed: tuple[str, ...] = ()
    agency: str | None = None
    found_school_id: str | None = None
    found_on: date | None = None
    note: str | None = None
    seen: str | None = None  # the case's version where the form or file gave it out


# The key every writer of a case's note waits on ("EWSN"), so that the same note sent
# twice at once is added once.
_NOTES_LOCK = 0x4557534E


def mark(findings: Case | CaseChange) -> str:
    """Ten letters for a case's findings (status, reason, help, agency, school and day
    found; not who follows it), as a page or a file gives them out and a change sends
    them back: a change is told apart from one sent on findings changed since. A letter
    first, so that a sheet program keeps it as text."""
    shown = (
        findings.status,
        findings.reason_code,
        sorted(findings.help_needed),
        findings.agency or None,
        findings.found_school_id or None,
        findings.found_on.isoformat() if findings.found_on else None,
    )
    return "v" + hashlib.sha256(repr(shown).encode()).hexdigest()[:9]


def _scope(user: User) -> Any:
    """The cases this user may read by name, as a condition on ``missing_cases``."""
    if user.role == "committee" and user.school_id:
        return missing_cases.c.school_id == user.school_id
    if user.role == "advisor" and user.school_id and user.staff_id:
        enrolled = TABLES["enrollments"]
        advised = (
            sa.select(enrolled.c.student_id)
            .where(
                (enrolled.c.school_id == missing_cases.c.school_id)
                & (enrolled.c.student_id == missing_cases.c.student_id)
                & (enrolled.c.academic_year == missing_cases.c.last_year)
                & (enrolled.c.term == missing_cases.c.last_term)
                & (enrolled.c.advisor_id == user.staff_id)
            )
            .exists()
        )
        return (missing_cases.c.school_id == user.school_id) & advised
    if user.role == "area" and user.schools:
        return missing_cases.c.school_id.in_(user.schools) & missing_cases.c.status.in_(
            REFERRED_OUTSIDE
        )
    return sa.false()


def cases(
    engine: sa.Engine,
    caller: Caller,
    *,
    open_only: bool = False,
    older: bool = False,
    action: str = "read",
) -> list[Case]:
    """The cases the caller may see by name, the longest open first (audited as
    ``action``). Open only: the open cases of the school year, those missing from the
    last ``RECENT_TERMS`` terms loaded (older ones stay open and counted; ``older_open``
    says how many), and with ``older`` the older open ones too."""
    if caller.user.role not in CASE_ROLES:
        return []
    query = _select().where(_scope(caller.user))
    with reading(engine) as connection:
        if open_only:
            query = query.where(missing_cases.c.status.in_(OPEN_STATUSES))
        if open_only and not older:
            query = query.where(_expected >= _newest_term(connection) - (RECENT_TERMS - 1))
        rows = connection.execute(query.order_by(missing_cases.c.opened_on)).mappings().all()
        found = _cases(connection, rows)
    keys = [StudentKey(c.school_id, c.student_id) for c in found]
    record_reads(engine, caller, keys, action=action)
    return sorted(found, key=lambda c: (not c.open, -c.days_open, c.school_id, c.student_id))


# The worklist's school year: cases missing from the last two terms loaded.
RECENT_TERMS = 2
_expected = missing_cases.c.expected_year * 2 + missing_cases.c.expected_term


def _newest_term(connection: sa.Connection) -> int:
    enrolled = TABLES["enrollments"]
    newest = connection.execute(
        sa.select(sa.func.max(enrolled.c.academic_year * 2 + enrolled.c.term))
    ).scalar()
    return int(newest or 0)


def older_open(engine: sa.Engine, user: User) -> int:
    """How many of the caller's open cases are older than the school year's."""
    if user.role not in CASE_ROLES:
        return 0
    with reading(engine) as connection:
        newest = _newest_term(connection)
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(missing_cases)
                .where(_scope(user))
                .where(missing_cases.c.status.in_(OPEN_STATUSES))
                .where(_expected < newest - (RECENT_TERMS - 1))
            ).scalar()
            or 0
        )


def case(engine: sa.Engine, caller: Caller, case_id: int) -> Case:
    """One case with the notes this user may read (audited); NotVisible otherwise."""
    if not 0 < case_id <= MAX_RECORD_ID:  # a number a file gave, that no case can have
        _denied(engine, caller)
        raise NotVisible("no such case")
    with reading(engine) as connection:
        row = (
            connection.execute(
                _select().where((missing_cases.c.case_id == case_id) & _scope(caller.user))
            )
            .mappings()
            .first()
        )
        if row is None or caller.user.role not in CASE_ROLES:
            _denied(engine, caller)
            raise NotVisible("no such case")
        found = _cases(connection, [row])[0]
        found.notes = _notes(connection, caller.user, found)
    record_reads(engine, caller, [StudentKey(found.school_id, found.student_id)])
    return found


def _denied(engine: sa.Engine, caller: Caller) -> None:
    audit.record(engine, [audit.Entry("denied", caller.route, caller.user.user_id)])


def _select() -> sa.Select[Any]:
    notes = missing_case_notes.c
    last_note = (
        sa.select(sa.func.max(notes.note_id))
        .where(notes.case_id == missing_cases.c.case_id)
        .scalar_subquery()
    )
    return sa.select(
        missing_cases, users.c.name.label("owner"), last_note.label("last_note")
    ).select_from(missing_cases.outerjoin(users, users.c.user_id == missing_cases.c.owner_user_id))


def _cases(connection: sa.Connection, rows: Sequence[Any]) -> list[Case]:
    keys = [StudentKey(r["school_id"], r["student_id"]) for r in rows]
    names = names_of(connection, keys)
    today = clock.today()
    return [
        Case(
            case_id=int(r["case_id"]),
            school_id=r["school_id"],
            student_id=r["student_id"],
            name=names.get(key),
            kind=r["kind"],
            grade_level=r["grade_level"],
            last_year=int(r["last_year"]),
            last_term=int(r["last_term"]),
            expected_year=int(r["expected_year"]),
            expected_term=int(r["expected_term"]),
            opened_on=r["opened_on"],
            days_open=max(0, ((r["closed_on"] or today) - r["opened_on"]).days),
            status=r["status"],
            status_on=r["status_on"],
            owner_user_id=r["owner_user_id"],
            owner=r["owner"],
            reason_code=r["reason_code"],
            help_needed=[h for h in (r["help_needed"] or "").split(",") if h],
            agency=r["agency"],
            found_school_id=r["found_school_id"],
            found_on=r["found_on"],
            closed_on=r["closed_on"],
            last_note=int(r["last_note"] or 0),
        )
        for r, key in zip(rows, keys, strict=True)
    ]


def _notes(connection: sa.Connection, user: User, found: Case) -> list[dict[str, Any]]:
    """A case's notes, for those who follow it: the case's owner and each note's author."""
    rows = connection.execute(
        sa.select(missing_case_notes, users.c.name.label("author"))
        .select_from(
            missing_case_notes.join(users, users.c.user_id == missing_case_notes.c.author_user_id)
        )
        .where(missing_case_notes.c.case_id == found.case_id)
        .order_by(missing_case_notes.c.written_at)
    ).mappings()
    follows = found.owner_user_id == user.user_id
    return [
        {"author": r["author"], "written_at": r["written_at"], "text": r["text"]}
        for r in rows
        if follows or r["author_user_id"] == user.user_id
    ]


def staff_of(engine: sa.Engine, school_id: str) -> list[tuple[int, str]]:
    """Who may follow a school's cases: its active advisors and committee members."""
    with reading(engine) as connection:
        rows = connection.execute(
            sa.select(users.c.user_id, users.c.name)
            .where(
                (users.c.school_id == school_id)
                & users.c.active
                & users.c.role.in_(("advisor", "committee"))
            )
            .order_by(users.c.name)
        ).all()
    return [(int(r.user_id), str(r.name)) for r in rows]


def check_change(change: CaseChange, case_school: str) -> CaseChange:
    """The change, completed with its defaults, or InvalidInput saying what is wrong."""
    if change.status not in STAFF_STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(STAFF_STATUSES)}")
    if change.reason_code is not None and change.reason_code not in REASON_CODES:
        raise InvalidInput(f"reason_code must be one of: {', '.join(map(str, REASON_CODES))}")
    unknown = [h for h in change.help_needed if h not in HELP]
    if unknown:
        raise InvalidInput(f"help_needed must be among: {', '.join(HELP)}")
    if change.found_on is not None and change.found_on > clock.today():
        raise InvalidInput("found_on is in the future")
    if change.status == "found_referred" and not change.agency:
        raise InvalidInput("a referred case names the agency (agency)")
    if change.status in ("found_returning", "found_enrolled") and change.found_on is None:
        raise InvalidInput("a found child needs the date they return or were found (found_on)")
    if change.status == "found_returning" and not change.found_school_id:
        return CaseChange(**{**change.__dict__, "found_school_id": case_school})
    return change


def update_case(
    engine: sa.Engine, caller: Caller, case_id: int, change: CaseChange, once: Sent | None = None
) -> Case:
    """Record what staff found (audited). A case the records closed stays closed.
    ``once``: the page form's sending (``serving.once``); sent again, nothing more is
    written."""
    _record(engine, caller, case(engine, caller, case_id), change, once)
    return case(engine, caller, case_id)


def unchanged(found: Case) -> CaseChange:
    """The change that leaves the case's findings as they are: its form as first drawn."""
    return CaseChange(
        status=found.status,
        owner_user_id=found.owner_user_id,
        reason_code=found.reason_code,
        help_needed=tuple(found.help_needed),
        agency=found.agency,
        found_school_id=found.found_school_id,
        found_on=found.found_on,
        seen=found.version,
    )


def _record(
    engine: sa.Engine, caller: Caller, current: Case, change: CaseChange, once: Sent | None = None
) -> bool:
    """Write a change of a case (audited); False, writing nothing, when it would leave the
    case as it is (a row of a file sent back as it was given out, or sent again), or the
    form that asks it was sent before.

    A change sent on findings someone else changed since its form or file gave them out
    (``change.seen``) does not put the older ones back: when it leaves them as they were
    given out, only its note is new and is added; when it changes them too, its note is
    added and ChangedSince says that the rest was not. A note the same person wrote on
    the case, word for word, after the form or file was given out (or today, when that
    is not known) is not added again: the same file sent twice, or again a week later.
    """
    case_id = current.case_id
    if current.status in DATA_CLOSED:
        raise InvalidInput("this case was closed by the records: the child is enrolled")
    sent_mark = mark(change)
    change = check_change(change, current.school_id)
    owner = change.owner_user_id
    if owner is None and change.status == "following":
        owner = current.owner_user_id or caller.user.user_id
    if owner is not None and owner not in {u for u, _ in staff_of(engine, current.school_id)}:
        raise InvalidInput("the owner must be an advisor or committee member of the school")
    today = clock.today()
    values: dict[str, Any] = {
        "status": change.status,
        "status_on": today if change.status != current.status else current.status_on,
        "owner_user_id": owner if owner is not None else current.owner_user_id,
        "reason_code": change.reason_code
        if change.reason_code is not None
        else current.reason_code,
        "help_needed": ",".join(change.help_needed or current.help_needed) or None,
        "agency": change.agency or current.agency,
        "found_school_id": change.found_school_id or current.found_school_id,
        "found_on": change.found_on or current.found_on,
        "closed_on": today if change.status in STAFF_CLOSED else None,
    }
    changes = values != _stored(current)
    refused = False
    seen_mark, _, seen_note = (change.seen or "").partition("n")
    if changes and seen_mark and seen_mark != mark(current):
        # It changes what it was given, not what is (who follows the case is not in the
        # mark: one asked for that differs from the case's is not taken as given either).
        asked = change.owner_user_id not in (None, current.owner_user_id)
        refused = sent_mark != seen_mark or asked
        changes = False
    note = change.note[:4000] if change.note else None
    with engine.begin() as connection:
        if note:
            hold_lock(connection, _NOTES_LOCK)  # the check below, then the insert
        if not first_time(connection, once):
            return False
        after = int(seen_note) if seen_note.isdigit() else None
        if note and _written_again(connection, case_id, caller.user.user_id, note, after):
            note = None
        if changes:  # unless someone changed the case since it was read
            as_read = [
                missing_cases.c[k].is_not_distinct_from(v) for k, v in _stored(current).items()
            ]
            written = connection.execute(
                sa.update(missing_cases)
                .where((missing_cases.c.case_id == case_id) & sa.and_(*as_read))
                .values(**values)
            )
            changes, refused = written.rowcount == 1, written.rowcount == 0
        if note:
            connection.execute(
                sa.insert(missing_case_notes).values(
                    case_id=case_id,
                    author_user_id=caller.user.user_id,
                    written_at=clock.utc_now(),
                    text=note,
                )
            )
    if changes or note:
        record_write(
            engine,
            caller,
            StudentKey(current.school_id, current.student_id),
            detail=f"missing case {case_id}: {current.status} -> {values['status']}",
        )
    if refused:
        made = "its note was added, its other changes were not made"
        raise ChangedSince(
            "this case was changed after it was read for this change: "
            f"{made if change.note else 'its changes were not made'}; "
            "look at the case as it is now and send them again"
        )
    return changes or note is not None


def _written_again(
    connection: sa.Connection, case_id: int, author: int, text: str, after: int | None
) -> bool:
    """Whether the author wrote this note on the case, word for word, after the note
    numbered ``after`` (the newest when the form or file was given out: the same form or
    file sent before), or today (in the schools' day) when that is not known."""
    notes = missing_case_notes.c
    if after is not None:
        since = notes.note_id > after
    else:
        midnight = datetime.combine(clock.today(), time(), clock.BANGKOK)
        since = notes.written_at >= midnight.astimezone(UTC).replace(tzinfo=None)
    return (
        connection.execute(
            sa.select(notes.case_id)
            .where(
                (notes.case_id == case_id)
                & (notes.author_user_id == author)
                & (notes.text == text)
                & since
            )
            .limit(1)
        ).first()
        is not None
    )


def _stored(current: Case) -> dict[str, Any]:
    """A case's values as ``missing_cases`` stores them."""
    return {
        "status": current.status,
        "status_on": current.status_on,
        "owner_user_id": current.owner_user_id,
        "reason_code": current.reason_code,
        "help_needed": ",".join(current.help_needed) or None,
        "agency": current.agency,
        "found_school_id": current.found_school_id,
        "found_on": current.found_on,
        "closed_on": current.closed_on,
    }


# The columns of a file of what staff found (the same as the page's form).
FILE_COLUMNS = (
    "case_id",
    "status",
    "reason_code",
    "help_needed",
    "agency",
    "found_school_id",
    "found_on",
    "note",
    "version",  # the findings' mark as the file gave them out (``mark``)
)
THAI_FILE_HEADERS = {
    "case_id": "เลขที่รายการ",
    "status": "สถานะ",
    "reason_code": "สาเหตุ",
    "help_needed": "ความช่วยเหลือที่ต้องการ",
    "agency": "หน่วยงานที่ส่งต่อ",
    "found_school_id": "สถานศึกษาที่พบ",
    "found_on": "วันที่พบหรือกลับเข้าเรียน",
    "note": "บันทึก",
    "version": "รหัสฉบับ",
}
# The columns a file of one's cases gives out to say whom each is about (Thai, English):
# read by people, not read back.
ABOUT_HEADERS = {
    "student_id": ("เลขประจำตัว", "student_id"),
    "name": ("ชื่อ", "name"),
    "last_enrolled": ("ลงทะเบียนล่าสุด", "last_enrolled"),
    "missing_from": ("ภาคเรียนที่ไม่พบ", "missing_from"),
}


def findings_sheet(engine: sa.Engine, caller: Caller, language: str) -> pd.DataFrame:
    """The caller's open cases (the older ones too) as a file of findings to fill in and
    send back: each case, whom it is about, and what was found so far in the page's
    words, under the page's headers (``apply_file`` reads them back; a row sent back as
    it was changes nothing). Audited as a download of each child's record."""
    index = 0 if language == "th" else 1
    reasons = REASON_WORDS if language == "th" else REASON_CODES
    rows = [
        {
            "case_id": c.case_id,
            "student_id": c.student_id,
            "name": c.name or "",
            "last_enrolled": f"{grade(c.grade_level, language)} · {c.last_term}/{c.last_year}",
            "missing_from": f"{c.expected_term}/{c.expected_year}",
            "status": STATUS_WORDS[c.status][index],
            "reason_code": reasons[c.reason_code] if c.reason_code is not None else "",
            "help_needed": ", ".join(HELP_WORDS[h][index] for h in c.help_needed),
            "agency": c.agency or "",
            "found_school_id": c.found_school_id or "",
            "found_on": c.found_on.isoformat() if c.found_on else "",
            "note": "",  # a note written here is added to the case's notes
            "version": c.version,
        }
        for c in cases(engine, caller, open_only=True, older=True, action="download")
    ]
    columns = ["case_id", *ABOUT_HEADERS, *FILE_COLUMNS[1:]]
    headers = {**{k: (v, k) for k, v in THAI_FILE_HEADERS.items()}, **ABOUT_HEADERS}
    return pd.DataFrame(rows, columns=columns).rename(
        columns={k: words[index] for k, words in headers.items()}
    )


# A file of findings: a sheet (read whole) or a text table.
FINDINGS_FILES = (*TEXT_SUFFIXES, *WORKBOOK_SUFFIXES)


def read_findings(name: str, content: bytes) -> pd.DataFrame:
    """A file of findings as text cells: a workbook's first sheet, or a text table saved
    by a sheet program (UTF-8, UTF-16 as Excel's "Unicode Text", Windows-874 as Thai
    Excel saves a CSV) whose cells are separated by commas, tabs or semicolons: the one
    that splits its header into the most of the file's columns (English or Thai).

    Raises:
        InvalidInput: not a kind of file the service reads.
    """
    lowered = name.lower()
    if lowered.endswith(WORKBOOK_SUFFIXES):
        sheet = pd.read_excel(io.BytesIO(content), engine="calamine", dtype=str)
        # A NUL character is dropped, as from a text file (``decode_csv_bytes``).
        cleaned: pd.DataFrame = sheet.apply(
            lambda cells: cells.str.replace("\x00", "", regex=False)
        )
        return cleaned
    if not lowered.endswith(TEXT_SUFFIXES):
        raise InvalidInput(f"{name}: not a file the service reads ({', '.join(FINDINGS_FILES)})")
    text = decode_csv_bytes(content)
    known = {fold_header(h) for pair in THAI_FILE_HEADERS.items() for h in pair}
    top = text.split("\n", 1)[0]

    def named(delimiter: str) -> int:
        header = next(csv.reader([top], delimiter=delimiter), [])
        return sum(fold_header(cell) in known for cell in header)

    delimiter = max(DELIMITERS, key=named)  # a comma when none names a column
    return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str)


@dataclass
class FileResult:
    applied: int  # cases changed
    problems: list[tuple[int, str]]  # (line of the file, what is wrong)


def apply_file(engine: sa.Engine, caller: Caller, frame: pd.DataFrame) -> FileResult:
    """Apply a file of findings, a row a case, with ``FILE_COLUMNS`` (English or Thai
    headers; other columns are for people). A bad row is reported by its line and
    skipped; the others are applied, those that change their case counted."""
    thai = {fold_header(v): k for k, v in THAI_FILE_HEADERS.items()}
    frame = frame.rename(columns=lambda c: thai.get(fold_header(c), str(c).strip().lower()))
    if "case_id" not in frame.columns or "status" not in frame.columns:
        raise InvalidInput("the file needs the columns case_id and status")
    applied, problems = 0, []
    for line, record in zip(range(2, len(frame) + 2), frame.to_dict("records"), strict=True):
        row = {str(k): v for k, v in record.items()}
        try:
            change = _change_of(row)
            current = case(engine, caller, int(_text(row.get("case_id")) or 0))
            applied += _record(engine, caller, current, change)
        except (InvalidInput, ValueError) as error:
            problems.append((line, str(error)))
        except NotVisible:
            problems.append((line, "no such case of yours"))
    return FileResult(applied, problems)


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        text = text[1:]  # as ``excel_safe`` gave it out: the apostrophe kept it from running
    return text.removesuffix(".0") if text else None


def _change_of(row: dict[str, Any]) -> CaseChange:
    status = _text(row.get("status")) or ""
    by_word = {
        word: key for key, words in STATUS_WORDS.items() for word in words
    }  # a file may use the Thai words of the page
    reason = _text(row.get("reason_code"))
    reason_code = reason_code_of(reason) if reason else None
    if reason and reason_code is None:
        raise InvalidInput(
            f"reason_code {reason!r} is not a reason: a code "
            f"({', '.join(map(str, REASON_CODES))}) or its words"
        )
    found_on = _text(row.get("found_on"))
    # As schools write dates: day first, Buddhist Era (10/01/2568), ISO or an Excel date.
    found_day = parse_dates(pd.Series([found_on or ""], dtype=object)).iloc[0]
    if found_on and pd.isna(found_day):
        raise InvalidInput(f"found_on {found_on!r} is not a date (dd/mm/yyyy or YYYY-MM-DD)")
    help_text = _text(row.get("help_needed")) or ""
    help_by_word = {
        fold_header(word): key for key, words in HELP_WORDS.items() for word in (key, *words)
    }  # the help as the page names it, in either language, or its key
    return CaseChange(
        status=by_word.get(status, status),
        reason_code=reason_code,
        help_needed=tuple(
            help_by_word.get(fold_header(h), h.strip()) for h in help_text.split(",") if h.strip()
        ),
        agency=_text(row.get("agency")),
        found_school_id=_text(row.get("found_school_id")),
        found_on=found_day.date() if found_on else None,
        note=_text(row.get("note")),
        seen=_text(row.get("version")),
    )


# The words of each status (Thai, English), for pages, files and reports.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "not_followed": ("ยังไม่ได้ติดตาม", "not yet followed"),
    "following": ("กำลังติดตาม", "being followed"),
    "found_returning": ("พบตัว กำลังกลับเข้าเรียน", "found, returning"),
    "found_referred": ("พบตัว ส่งต่อหน่วยงาน", "found, referred to an agency"),
    "found_enrolled": ("พบตัว เรียนอยู่ที่อื่น", "found studying elsewhere"),
    "not_found": ("ไม่พบตัว ส่งต่อกระทรวงและภาคี", "not found, forwarded"),
    "enrolled_elsewhere": ("ลงทะเบียนที่สถานศึกษาอื่นแล้ว", "enrolled at another school"),
    "returned": ("กลับมาเรียนแล้ว", "back at school"),
    "explained": ("มีบันทึกการออกที่อธิบายได้", "an exit record explains it"),
    "not_missing": (
        "ลงทะเบียนเรียนภาคเรียนนั้นแล้ว (ข้อมูลมาทีหลัง)",
        "enrolled that term after all (its record came later)",
    ),
}
assert set(STATUS_WORDS) == set(STATUSES)

# The words of each kind of help (Thai, English), for pages, files and reports.
HELP_WORDS: dict[str, tuple[str, str]] = {
    "money": ("ทุนการศึกษาหรือค่าใช้จ่าย", "money for school"),
    "transport": ("การเดินทาง", "transport"),
    "learning": ("สอนเสริมการเรียน", "learning support"),
    "health": ("สุขภาพกายหรือใจ", "health"),
    "family": ("ช่วยเหลือครอบครัว", "family support"),
    "documents": ("เอกสารหรือสถานะบุคคล", "documents or legal status"),
    "flexible_schooling": ("การเรียนรูปแบบยืดหยุ่น (กศน.)", "flexible schooling"),
    "work_skills": ("ฝึกอาชีพ", "work skills"),
    "other": ("อื่น ๆ", "other"),
}
assert set(HELP_WORDS) == set(HELP)


@dataclass
class SchoolCounts:
    school_id: str
    name: str | None
    statuses: dict[str, int]
    open_by_age: dict[str, int]  # open cases by how long they have been open

    @property
    def to_find(self) -> int:
        return sum(n for s, n in self.statuses.items() if s not in NOBODY_TO_FIND)


def counts(engine: sa.Engine, user: User) -> list[SchoolCounts]:
    """Cases by school, status and age of the open ones, for the schools the user
    follows (an analyst: every school); no names."""
    if user.role not in COUNT_ROLES:
        return []
    schools_table = TABLES["schools"]
    query = sa.select(
        missing_cases.c.school_id,
        missing_cases.c.status,
        missing_cases.c.opened_on,
        missing_cases.c.closed_on,
    )
    if user.role == "committee":
        query = query.where(missing_cases.c.school_id == (user.school_id or ""))
    elif user.role == "area":
        query = query.where(missing_cases.c.school_id.in_(user.schools))
    with reading(engine) as connection:
        rows = connection.execute(query).all()
        names = dict(
            connection.execute(sa.select(schools_table.c.school_id, schools_table.c.name)).all()
        )
    today = clock.today()
    by_school: dict[str, SchoolCounts] = {}
    for school, status, opened_on, _ in rows:
        entry = by_school.setdefault(
            school,
            SchoolCounts(
                school,
                names.get(school),
                dict.fromkeys(STATUSES, 0),
                {band: 0 for *_, band in AGE_BANDS},
            ),
        )
        entry.statuses[status] += 1
        if status in OPEN_STATUSES:
            entry.open_by_age[_age_band((today - opened_on).days)] += 1
    return sorted(
        by_school.values(),
        key=lambda s: (-sum(s.open_by_age.values()), s.school_id),
    )


def _age_band(days: int) -> str:
    for low, high, band in AGE_BANDS:
        if days >= low and (high is None or days < high):
            return band
    return AGE_BANDS[-1][2]
