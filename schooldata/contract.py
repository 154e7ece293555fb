"""The data contract as code: one spec per source file.

Each source lists its columns with type, whether the column must be present and filled,
the allowed values (canonical, plus the Thai words schools write), ranges, and the Thai
term for the data dictionary. The same specs drive parsing, validation (pandera), the
database tables and ``docs/data-dictionary.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["str", "int", "float", "date", "bool", "category", "national_id"]

GRADE_LEVELS: tuple[str, ...] = (
    *(f"K{i}" for i in range(1, 4)),
    *(f"P{i}" for i in range(1, 7)),
    *(f"M{i}" for i in range(1, 7)),
    *(f"V{i}" for i in range(1, 4)),
    *(f"H{i}" for i in range(1, 3)),
)
GRADES: tuple[str, ...] = ("0", "1", "1.5", "2", "2.5", "3", "3.5", "4", "ร", "มส", "มผ", "ผ")
# Thai ways of writing a grade level: ม.1, ม1, มัธยมศึกษาปีที่ 1, ปวช.1, อ.2, ป.6 ...
_LEVEL_WORDS: Mapping[str, tuple[str, ...]] = {
    "K": ("อ.", "อ", "อนุบาล"),
    "P": ("ป.", "ป", "ประถมศึกษาปีที่", "ประถม"),
    "M": ("ม.", "ม", "มัธยมศึกษาปีที่", "มัธยม"),
    "V": ("ปวช.", "ปวช"),
    "H": ("ปวส.", "ปวส"),
}
GRADE_ALIASES: Mapping[str, str] = {
    f"{word}{number}": level
    for level in GRADE_LEVELS
    for word in _LEVEL_WORDS[level[0]]
    for number in (level[1], "๐๑๒๓๔๕๖๗๘๙"[int(level[1])])
}
SCREENING_LEVELS: tuple[str, ...] = ("normal", "at_risk", "problem")
SCREENING_ALIASES: Mapping[str, str] = {
    "ปกติ": "normal",
    "เสี่ยง": "at_risk",
    "มีปัญหา": "problem",
    # Vocational colleges' homeroom groups for the same three levels.
    "ไว้ใจ": "normal",
    "ห่วงใย": "at_risk",
    "ใกล้ชิด": "problem",
}
# The care system's forms name each result's group: กลุ่มปกติ, กลุ่มเสี่ยง, กลุ่มมีปัญหา.
SCREENING_ALIASES = {**SCREENING_ALIASES, **{f"กลุ่ม{w}": v for w, v in SCREENING_ALIASES.items()}}
SCREENING_DOMAINS: tuple[str, ...] = (
    "learning",
    "health",
    "economic",
    "protection",
    "behaviour",
    "sexual",
    "emotional",
    "internet",
)
ATTENDANCE_STATUSES: tuple[str, ...] = (
    "present",
    "absent",
    "late",
    "sick_leave",
    "personal_leave",
)
# The statuses of a child who came to school that day.
AT_SCHOOL: tuple[str, ...] = ("present", "late")
# Words and the marks of a class register (แบบบันทึกเวลาเรียน).
ATTENDANCE_MARKS: Mapping[str, str] = {
    "มา": "present",
    "ขาด": "absent",
    "สาย": "late",
    "ลาป่วย": "sick_leave",
    "ลากิจ": "personal_leave",
    "/": "present",
    "✓": "present",
    "✔": "present",
    "√": "present",  # the check mark Thai sheets type (Insert > Symbol)
    "มาเรียน": "present",
    "ขาดเรียน": "absent",
    "หนีเรียน": "absent",
    "มาสาย": "late",
    "ป่วย": "sick_leave",
    "ลา": "personal_leave",
    "ข": "absent",
    "ส": "late",
    "ป": "sick_leave",
    "ล": "personal_leave",
    "p": "present",
    "a": "absent",
    "sick": "sick_leave",
    "leave": "personal_leave",
}
INTERVENTION_OUTCOMES: tuple[str, ...] = ("done", "not_home", "refused", "moved", "other")
EXIT_TYPES: tuple[str, ...] = ("dropout", "transfer", "graduated", "deceased", "other")
# DMC reasons 1-10 (seed 002), then work, marriage/pregnancy, unknown.
REASON_CODES: Mapping[int, str] = {
    1: "family necessity",
    2: "moved away",
    3: "family problems",
    4: "health",
    5: "parents' income too low",
    6: "transport",
    7: "social adjustment",
    8: "disability",
    9: "disaster",
    10: "breaking school rules",
    11: "work",
    12: "marriage or pregnancy",
    99: "unknown",
}
# The reasons in Thai: as the service's pages and reports write them, then as the DMC's
# own list does ("เหตุที่ออกกลางคัน"); a file may give a reason by either, or by its code.
REASON_WORDS: Mapping[int, str] = {
    1: "ครอบครัวมีความจำเป็น",
    2: "อพยพตามผู้ปกครอง",
    3: "ปัญหาครอบครัว",
    4: "มีปัญหาสุขภาพ",
    5: "ผู้ปกครองมีรายได้น้อย",
    6: "การเดินทางไม่สะดวก",
    7: "ปรับตัวไม่ได้",
    8: "ความพิการ",
    9: "ประสบภัยพิบัติ",
    10: "ไม่ปฏิบัติตามระเบียบ",
    11: "ทำงาน",
    12: "สมรสหรือตั้งครรภ์",
    99: "ไม่ทราบสาเหตุ",
}
assert set(REASON_WORDS) == set(REASON_CODES)
REASON_ALIASES: Mapping[str, str] = {
    **{word: str(code) for code, word in REASON_WORDS.items()},
    **{word: str(code) for code, word in REASON_CODES.items()},  # as English pages write them
    "ความจำเป็นทางครอบครัว": "1",
    "ย้ายถิ่นที่อยู่": "2",
    "สภาพครอบครัว": "3",
    "สุขภาพอนามัย": "4",
    "ผู้ปกครองมีรายได้น้อย ไม่พอเพียง": "5",
    "การคมนาคมไม่สะดวก": "6",
    "ปัญหาการปรับสภาพตัวเองในสังคม": "7",
    "ได้รับผลกระทบจากภัยต่าง ๆ": "9",
    "การประพฤติ ปฏิบัติขัดกับระเบียบของสถานศึกษา": "10",
}


def reason_code_of(text: str) -> int | None:
    """A reason as a file gives it (its code, or its words in Thai or English), as its
    code; None when it is none of these."""
    code = {fold_header(w): c for w, c in REASON_ALIASES.items()}.get(fold_header(text), text)
    return int(code) if code.isdigit() and int(code) in REASON_CODES else None


INTERVENTION_TYPES: tuple[str, ...] = (
    "home_visit",
    # The contact ladder's first and third steps (a call, then a visit, then a letter).
    "phone_call",
    "letter",
    "parent_meeting",
    "counselling",
    "tutoring",
    "scholarship_referral",
    "health_referral",
    "external_referral",
    "other",
)

# The Thai words of the service's own pages (serving.i18n, checked by a test) and those
# schools' home-visit forms, case records and equity-fund (กสศ.) survey use.
INTERVENTION_ALIASES: Mapping[str, str] = {
    "เยี่ยมบ้าน": "home_visit",
    "โทรศัพท์": "phone_call",
    "โทรศัพท์ถึงผู้ปกครอง": "phone_call",
    "จดหมาย": "letter",
    "ส่งจดหมายถึงผู้ปกครอง": "letter",
    "พบผู้ปกครอง": "parent_meeting",
    "ประชุมผู้ปกครอง": "parent_meeting",
    "ให้คำปรึกษา": "counselling",
    "แนะแนว": "counselling",
    "สอนเสริม": "tutoring",
    "สอนซ่อมเสริม": "tutoring",
    "ส่งต่อทุนการศึกษา": "scholarship_referral",
    "ทุนการศึกษา": "scholarship_referral",
    "ส่งต่อด้านสุขภาพ": "health_referral",
    "ส่งต่อโรงพยาบาล": "health_referral",
    "ส่งต่อหน่วยงานภายนอก": "external_referral",
    "อื่นๆ": "other",
    "อื่น ๆ": "other",
}
OUTCOME_ALIASES: Mapping[str, str] = {
    "สำเร็จ": "done",
    "ดำเนินการแล้ว": "done",
    "พบ": "done",
    "ไม่พบที่บ้าน": "not_home",
    "ไม่อยู่บ้าน": "not_home",
    "ปฏิเสธ": "refused",
    "ย้ายที่อยู่": "moved",
    "ย้ายออก": "moved",
    "อื่นๆ": "other",
    "อื่น ๆ": "other",
}
CAREGIVER_ALIASES: Mapping[str, str] = {
    "บิดามารดา": "both_parents",
    "พ่อแม่": "both_parents",
    "มารดา": "mother",
    "แม่": "mother",
    "บิดา": "father",
    "พ่อ": "father",
    "ปู่ย่าตายาย": "grandparents",
    "ปู่ย่า": "grandparents",
    "ตายาย": "grandparents",
    "ญาติ": "relatives",
    "ผู้อื่น": "other",
    "อื่นๆ": "other",
    "อื่น ๆ": "other",
    "อยู่ลำพัง": "none",
    "ไม่มี": "none",
}
HOUSING_ALIASES: Mapping[str, str] = {
    "ดี": "good",
    "มั่นคงแข็งแรง": "good",
    "แข็งแรง": "good",
    "พอใช้": "fair",
    "ทรุดโทรม": "poor",
    "ชำรุดทรุดโทรม": "poor",
}
EQUITY_ALIASES: Mapping[str, str] = {
    "ไม่ยากจน": "none",
    "ยากจน": "poor",
    "ยากจนพิเศษ": "extremely_poor",
}


# The advisor code of students whose enrolment names no advisor: their classroom.
CLASSROOM_GROUP = "class:"

# Nationality as schools write it, to ISO 3166 alpha-2 (XX: unknown or stateless).
NATIONALITY_ALIASES: Mapping[str, str] = {
    "ไทย": "TH",
    "เมียนมา": "MM",
    "เมียนมาร์": "MM",
    "พม่า": "MM",
    "กัมพูชา": "KH",
    "เขมร": "KH",
    "ลาว": "LA",
    "เวียดนาม": "VN",
    "จีน": "CN",
    "มาเลเซีย": "MY",
    "ไร้สัญชาติ": "XX",
    "ไม่มีสัญชาติ": "XX",
    "ไม่ทราบ": "XX",
    "ไม่ระบุ": "XX",
    "thai": "TH",
    "myanmar": "MM",
    "cambodian": "KH",
    "lao": "LA",
    "stateless": "XX",
}
# How schools write "no disability" (DMC exports: ไม่พิการ); any other value is its type.
NO_DISABILITY: Mapping[str, str] = dict.fromkeys(
    ("none", "no", "-", "ไม่มี", "ไม่พิการ", "ไม่มีความพิการ", "ปกติ"), "none"
)
SEX_ALIASES: Mapping[str, str] = {
    "ชาย": "M",
    "หญิง": "F",
    "ช": "M",
    "ญ": "F",
    "ด.ช.": "M",
    "ด.ญ.": "F",
    "เด็กชาย": "M",
    "เด็กหญิง": "F",
    "นาย": "M",
    "นางสาว": "F",
    "น.ส.": "F",
    "นาง": "F",
    "male": "M",
    "female": "F",
}


@dataclass(frozen=True)
class Column:
    """One column of a source file.

    ``required`` columns must be present in the file and filled in every row.
    """

    name: str
    kind: Kind
    description: str
    thai: str = ""
    required: bool = False
    allowed: tuple[str, ...] | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    sensitive: bool = False
    # Other headers schools give the column (the Thai term is always accepted).
    headers: tuple[str, ...] = ()
    # The unit its values are in (a key of UNITS): a header naming another unit of the
    # same kind in brackets is converted, one naming a unit of another kind is not it.
    unit: str = ""

    @property
    def optional(self) -> bool:
        """A bad value here is blanked with a warning; it never costs the row."""
        return not self.required


@dataclass(frozen=True)
class Source:
    """One source file of a data directory."""

    name: str
    one_row_per: str
    thai: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = False
    # Columns that must name a student or school already known (in the database or the
    # same load). A student is named by the school and its own code together
    # (``school_id`` and ``student_ref``). School references are checked only once any
    # school is known.
    student_ref: str | None = None
    school_refs: tuple[str, ...] = ()

    @property
    def about_students(self) -> bool:
        """Records keyed by a school's student: the students and everything about them."""
        return self.name == "students" or self.student_ref is not None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def named(self, name: str) -> bool:
        """A file (its name without the suffix) or a folder named after the source: its
        English or Thai name (the Thai with or without its note in brackets)."""
        return fold_name(name) in {
            fold_name(self.name),
            fold_name(self.thai),
            fold_header(self.thai),
        }

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def headers(self) -> dict[str, str]:
        """Every header a school may give (folded) → the contract column name."""
        names: dict[str, str] = {}
        for c in self.columns:
            for header in (c.name, c.thai, *c.headers):
                if header:
                    names[fold_header(header)] = c.name
        return names


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff_"))
# A unit or note in brackets after a header or a word: "(บาท)", "(กม.)", "(กสศ.)".
_BRACKETED_AFTER = re.compile(r"\s*\([^()]*\)\s*$")


# Units a header may name in brackets (folded): their kind, and their worth in the
# kind's first unit. A note in brackets (กสศ.) is no unit.
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("กม.", "กิโลเมตร", "km"), ("length", 1.0)),
    **dict.fromkeys(("ม.", "เมตร", "m"), ("length", 0.001)),
    **dict.fromkeys(("นาที", "min", "minutes"), ("time", 1.0)),
    **dict.fromkeys(("ชม.", "ชั่วโมง", "h", "hours"), ("time", 60.0)),
    **dict.fromkeys(("บาท", "baht", "thb"), ("money", 1.0)),
    **dict.fromkeys(("พันบาท",), ("money", 1000.0)),
}


def unit_factor(header: str, column: Column) -> float | None:
    """What a value under ``header`` is worth in the column's unit: 1 when the header
    names no unit (or a note), the factor of another unit of the same kind (metres for
    kilometres: 0.001), None for a unit of another kind (hours are no income)."""
    bracket = _BRACKETED_AFTER.search(unicodedata.normalize("NFKC", str(header)))
    named = UNITS.get(fold_header(bracket[0].strip(" ()"))) if bracket else None
    if named is None or not column.unit:
        return 1.0
    kind, worth = UNITS[column.unit]
    return named[1] / worth if named[0] == kind else None


def fold_header(header: str) -> str:
    """A header or a word as matched: Thai as files really write it, case and spaces ignored.

    ำ typed or extracted from a PDF as ํ + า reads as ำ (NFKC makes both the same), แ
    typed as two เ reads as แ, and zero-width spaces, byte-order marks, underscores and
    spaces are ignored ("both parents" is both_parents, "Student ID" is student_id), and
    so is a unit or a note in brackets after it ("รายได้ครัวเรือนต่อเดือน (บาท)").
    """
    text = unicodedata.normalize("NFKC", str(header)).translate(_INVISIBLE)
    return fold_name(_BRACKETED_AFTER.sub("", text) or text)


def fold_name(name: str) -> str:
    """A file's or folder's name as matched: as a header (``fold_header``), but a note in
    brackets after it stays. ``students (1).xlsx``, a download's second copy, or
    ``students (copy).xlsx``, one set aside, is not the students file."""
    text = unicodedata.normalize("NFKC", str(name)).translate(_INVISIBLE)
    return "".join(text.replace("เเ", "แ").split()).casefold()


# Headers of a value given per member of the household, by source: the column holds it
# times the household's size. The equity fund's screening (นร.01) gives the household's
# income per person, the figure its poverty line is drawn on.
PER_PERSON_HEADERS: dict[str, dict[str, str]] = {
    "household": {
        fold_header(h): "monthly_income"
        for h in (
            "รายได้เฉลี่ยต่อคนต่อเดือน",
            "รายได้เฉลี่ยต่อคน",
            "รายได้ต่อคนต่อเดือน",
            "รายได้ต่อคน",
            "รายได้เฉลี่ยของครัวเรือนต่อคน",
            "รายได้เฉลี่ยครัวเรือนต่อคนต่อเดือน",
            "income per person",
            "monthly income per person",
            "monthly_income_per_person",
        )
    }
}


# Other headers of a student's code and of a school's: a vocational college's students are
# นักศึกษา, and a school's own files call it รหัสโรงเรียน.
STUDENT_HEADERS = (
    "เลขประจำตัวนักเรียน",
    "เลขประจำตัว",
    "รหัสประจำตัวนักเรียน",
    "รหัสนักศึกษา",
    "รหัสประจำตัวนักศึกษา",
    "เลขประจำตัวนักศึกษา",
)
SCHOOL_HEADERS = ("รหัสโรงเรียน", "รหัสวิทยาลัย")


def _student_id() -> Column:
    return Column(
        "student_id",
        "str",
        "Student identifier used by the school",
        "รหัสนักเรียน",
        True,
        headers=STUDENT_HEADERS,
    )


def _school_of_student() -> Column:
    """The school whose code ``student_id`` is, on a record about a student."""
    return Column(
        "school_id",
        "str",
        "School whose code student_id is; blank: the school of the folder or upload, or the "
        "only school that uses the code",
        "รหัสสถานศึกษา",
        headers=SCHOOL_HEADERS,
    )


def _level(name: str, thai: str) -> Column:
    return Column(
        name,
        "category",
        f"Screening result for {name}",
        thai,
        allowed=SCREENING_LEVELS,
        aliases=SCREENING_ALIASES,
        sensitive=True,
    )


def _sdq(name: str, top: int, description: str, thai: str) -> Column:
    return Column(name, "int", description, thai, min=0, max=top, sensitive=True)


def _count(name: str, description: str, thai: str) -> Column:
    return Column(name, "int", description, thai, min=0, max=30)


YEAR = Column(
    "academic_year",
    "int",
    "Academic year, Buddhist Era",
    "ปีการศึกษา (พ.ศ.)",
    True,
    min=2400,
    max=2700,
    headers=("ปีการศึกษา",),
)
TERM = Column(
    "term", "int", "Term within the academic year", "ภาคเรียน", True, allowed=None, min=1, max=2
)

SCHOOLS = Source(
    "schools",
    "school",
    "สถานศึกษา",
    (
        Column(
            "school_id", "str", "School identifier", "รหัสสถานศึกษา", True, headers=SCHOOL_HEADERS
        ),
        Column("name", "str", "School name", "ชื่อสถานศึกษา"),
        Column("province", "str", "Province", "จังหวัด"),
        Column(
            "affiliation",
            "category",
            "Governing body",
            "สังกัด",
            allowed=("OBEC", "OVEC", "OPEC", "DLE", "BMA", "LAO", "OTHER"),
            aliases={
                "สพฐ.": "OBEC",
                "สอศ.": "OVEC",
                "สช.": "OPEC",
                "สกร.": "DLE",
                "กทม.": "BMA",
                "อปท.": "LAO",
                "อื่น ๆ": "OTHER",
            },
        ),
        Column(
            "area",
            "category",
            "Urban or rural",
            "เขตพื้นที่",
            allowed=("urban", "rural"),
            aliases={"เมือง": "urban", "ชนบท": "rural"},
        ),
        Column(
            "home_visit_capacity",
            "int",
            "Home visits the care committee can make a week",
            "จำนวนการเยี่ยมบ้านต่อสัปดาห์",
            min=0,
            max=1000,
        ),
    ),
    key=("school_id",),
)

CALENDAR = Source(
    "calendar",
    "term",
    "ปฏิทินการศึกษา",
    (
        Column(
            "school_id",
            "str",
            "School the dates apply to; blank for every school",
            "รหัสสถานศึกษา",
            headers=SCHOOL_HEADERS,
        ),
        YEAR,
        TERM,
        Column("start_date", "date", "First day of term", "วันเปิดภาคเรียน", True),
        Column("end_date", "date", "Last day of term", "วันปิดภาคเรียน", True),
    ),
    key=("school_id", "academic_year", "term"),
    school_refs=("school_id",),
)

STUDENTS = Source(
    "students",
    "student",
    "นักเรียน",
    (
        _student_id(),
        Column("school_id", "str", "Current school", "รหัสสถานศึกษา", True, headers=SCHOOL_HEADERS),
        Column(
            "given_name",
            "str",
            "Given name (stays in the operational database)",
            "ชื่อ",
            sensitive=True,
        ),
        Column(
            "family_name",
            "str",
            "Family name (stays in the operational database)",
            "นามสกุล",
            sensitive=True,
        ),
        Column(
            "national_id",
            "national_id",
            "13-digit Thai ID (checksum-checked), or the code of a child without one (G code "
            "or another code starting with a letter); stored as a keyed hash",
            "เลขประจำตัวประชาชน",
            sensitive=True,
            headers=("เลขบัตรประชาชน", "รหัส G", "เลขประจำตัว 13 หลัก"),
        ),
        Column(
            "sex",
            "category",
            "Sex",
            "เพศ",
            allowed=("M", "F", "X"),
            aliases=SEX_ALIASES,
            sensitive=True,
            headers=("คำนำหน้า", "คำนำหน้าชื่อ"),
        ),
        Column("birth_date", "date", "Date of birth", "วันเกิด", headers=("วันเดือนปีเกิด",)),
        Column(
            "nationality",
            "str",
            "ISO 3166 alpha-2 code, XX unknown or stateless",
            "สัญชาติ",
            aliases=NATIONALITY_ALIASES,
            pattern=r"^[A-Z]{2}$",
            sensitive=True,
        ),
        Column(
            "disability",
            "str",
            "'none' (a dash too) or the type of disability, as the school writes it",
            "ความพิการ",
            aliases=NO_DISABILITY,
            sensitive=True,
        ),
    ),
    key=("school_id", "student_id"),
    required=True,
    school_refs=("school_id",),
)

ENROLLMENTS = Source(
    "enrollments",
    "student × term registered",
    "การลงทะเบียนรายภาคเรียน",
    (
        _student_id(),
        YEAR,
        TERM,
        Column(
            "school_id",
            "str",
            "School the student is registered at",
            "รหัสสถานศึกษา",
            True,
            headers=SCHOOL_HEADERS,
        ),
        Column(
            "grade_level",
            "category",
            "K1-K3, P1-P6, M1-M6, V1-V3 (ปวช.), H1-H2 (ปวส.)",
            "ระดับชั้น",
            True,
            allowed=GRADE_LEVELS,
            aliases=GRADE_ALIASES,
            headers=("ชั้น", "ชั้นปี"),
        ),
        Column(
            "classroom",
            "str",
            "Class or room; when blank, the room of a class written with its grade (ม.1/2)",
            "ห้องเรียน",
            headers=("ห้อง", "กลุ่มเรียน"),
        ),
        Column(
            "advisor_id",
            "str",
            "Class advisor's staff id; when blank (a DMC export has none) the student is "
            f"listed under the classroom group {CLASSROOM_GROUP}GRADE/ROOM, which an admin "
            "gives to the classroom's advisor",
            "รหัสครูที่ปรึกษา",
        ),
        Column("snapshot_date", "date", "Date of the enrolment count (DMC snapshot)", "วันที่นับข้อมูล"),
    ),
    key=("school_id", "student_id", "academic_year", "term"),
    required=True,
    student_ref="student_id",
    school_refs=("school_id",),
)

EXITS = Source(
    "exits",
    "exit event",
    "การออกจากสถานศึกษา",
    (
        _student_id(),
        _school_of_student(),
        Column(
            "exit_date",
            "date",
            "Date the student left",
            "วันที่ออก",
            True,
            headers=("วันที่จำหน่าย", "วันที่ออกจากสถานศึกษา", "วันที่ออกจากโรงเรียน"),
        ),
        Column(
            "exit_type",
            "category",
            "dropout, transfer, graduated, deceased or other",
            "ประเภทการออก",
            True,
            headers=("ประเภทการจำหน่าย", "กรณีที่ออก", "กรณีการจำหน่าย"),
            allowed=EXIT_TYPES,
            aliases={
                "ออกกลางคัน": "dropout",
                "ย้าย": "transfer",
                "ย้ายสถานศึกษา": "transfer",
                "ย้ายโรงเรียน": "transfer",
                "ย้ายออก": "transfer",
                "จบการศึกษา": "graduated",
                "สำเร็จการศึกษา": "graduated",
                "จบ": "graduated",
                "เสียชีวิต": "deceased",
                "ถึงแก่กรรม": "deceased",
                "อื่นๆ": "other",
                # Left without saying why (withdrew, lost their place, struck off the
                # roll): not found enrolled anywhere, the labels count them as leaving.
                "ลาออก": "other",
                "พ้นสภาพ": "other",
                "จำหน่าย": "other",
                "จำหน่ายชื่อ": "other",
            },
        ),
        Column(
            "reason_code",
            "int",
            "Reason: DMC codes 1-10, 11 work, 12 marriage/pregnancy, 99 unknown (or the "
            "reason's words in Thai or English)",
            "สาเหตุ",
            allowed=tuple(str(k) for k in REASON_CODES),
            aliases=REASON_ALIASES,
            headers=("สาเหตุการออก", "สาเหตุที่ออก", "สาเหตุการจำหน่าย", "สาเหตุการออกกลางคัน"),
        ),
        Column("destination_school_id", "str", "School transferred to", "สถานศึกษาปลายทาง"),
    ),
    key=("school_id", "student_id", "exit_date", "exit_type"),
    required=True,
    student_ref="student_id",
    school_refs=("school_id",),
)

ATTENDANCE = Source(
    "attendance",
    "student × school day",
    "การมาเรียน",
    (
        _student_id(),
        _school_of_student(),
        Column("date", "date", "School day", "วันที่", True),
        Column(
            "status",
            "category",
            "present, absent, late, sick_leave, personal_leave",
            "สถานะ",
            True,
            allowed=ATTENDANCE_STATUSES,
            aliases=ATTENDANCE_MARKS,
        ),
    ),
    key=("school_id", "student_id", "date"),
    student_ref="student_id",
    school_refs=("school_id",),
)

GRADES_SOURCE = Source(
    "grades",
    "student × subject × term",
    "ผลการเรียน",
    (
        _student_id(),
        _school_of_student(),
        YEAR,
        TERM,
        Column("subject_code", "str", "Subject code", "รหัสวิชา", True),
        Column("credits", "float", "Credits (หน่วยกิต)", "หน่วยกิต", min=0, max=20),
        Column(
            "grade",
            "category",
            "0-4 in half steps, or ร (incomplete), มส (under 80% attendance), "
            "มผ / ผ (activity not passed / passed)",
            "ผลการเรียน",
            True,
            allowed=GRADES,
            aliases={
                "ผ่าน": "ผ",
                "ไม่ผ่าน": "มผ",
                **{f"{mark}.": mark for mark in ("ร", "มส", "มผ", "ผ")},
            },
            headers=("เกรด", "ระดับผลการเรียน"),
        ),
        Column("recorded_date", "date", "Date the grade was recorded", "วันที่บันทึก"),
    ),
    key=("school_id", "student_id", "academic_year", "term", "subject_code"),
    student_ref="student_id",
    school_refs=("school_id",),
)

ASSESSMENTS = Source(
    "assessments",
    "piece of coursework or test",
    "คะแนนเก็บและการสอบ",
    (
        _student_id(),
        _school_of_student(),
        Column("subject_code", "str", "Subject code", "รหัสวิชา", True),
        Column("date", "date", "Due or taken", "วันที่", True),
        Column("score", "float", "Score obtained", "คะแนนที่ได้", min=0, max=10000),
        Column(
            "max_score", "float", "Highest possible score", "คะแนนเต็ม", True, min=0.01, max=10000
        ),
        Column("submitted", "bool", "false when the work is missing", "ส่งงาน"),
    ),
    key=("school_id", "student_id", "subject_code", "date"),
    student_ref="student_id",
    school_refs=("school_id",),
)

HOUSEHOLD = Source(
    "household",
    "poverty survey",
    "ข้อมูลครัวเรือน (คัดกรองความยากจน)",
    (
        _student_id(),
        _school_of_student(),
        Column("survey_date", "date", "Date of the survey", "วันที่สำรวจ", True),
        Column(
            "household_size", "int", "People in the household", "จำนวนสมาชิกครัวเรือน", min=1, max=40
        ),
        Column(
            "monthly_income",
            "float",
            "Whole household income, baht a month",
            "รายได้ครัวเรือนต่อเดือน",
            min=0,
            max=10_000_000,
            sensitive=True,
            unit="บาท",
        ),
        Column(
            "caregiver",
            "category",
            "Who the student lives with",
            "ผู้ดูแล",
            allowed=(
                "both_parents",
                "mother",
                "father",
                "grandparents",
                "relatives",
                "other",
                "none",
            ),
            aliases=CAREGIVER_ALIASES,
        ),
        _count("dependants_elderly", "Elderly dependants", "ผู้สูงอายุในครัวเรือน"),
        _count("dependants_disabled", "Disabled dependants", "ผู้พิการในครัวเรือน"),
        _count("dependants_unemployed", "Unemployed adults", "ผู้ว่างงานในครัวเรือน"),
        Column(
            "housing",
            "category",
            "Housing condition",
            "สภาพที่อยู่อาศัย",
            allowed=("good", "fair", "poor"),
            aliases=HOUSING_ALIASES,
        ),
        Column("owns_land", "bool", "Household owns farm land", "มีที่ดินทำกิน"),
        Column("has_electricity", "bool", "Home has electricity", "มีไฟฟ้า"),
        Column("welfare_card", "bool", "Holds the state welfare card", "บัตรสวัสดิการแห่งรัฐ"),
        Column(
            "equity_status",
            "category",
            "Equity-fund (กสศ.) screening result",
            "สถานะกองทุนเสมอภาค",
            allowed=("none", "poor", "extremely_poor"),
            aliases=EQUITY_ALIASES,
            sensitive=True,
        ),
        Column(
            "distance_km",
            "float",
            "Distance home to school, km",
            "ระยะทางถึงโรงเรียน (กม.)",
            min=0,
            max=500,
            headers=("ระยะทางจากบ้านถึงโรงเรียน", "ระยะทางจากบ้านไปโรงเรียน"),
            unit="กม.",
        ),
        Column(
            "travel_minutes",
            "float",
            "Travel time to school, minutes",
            "เวลาเดินทาง (นาที)",
            min=0,
            max=600,
            headers=("ระยะเวลาเดินทาง", "ระยะเวลาในการเดินทาง", "เวลาที่ใช้เดินทาง"),
            unit="นาที",
        ),
    ),
    key=("school_id", "student_id", "survey_date"),
    student_ref="student_id",
    school_refs=("school_id",),
)

SCREENINGS = Source(
    "screenings",
    "care-system screening",
    "การคัดกรองนักเรียน",
    (
        _student_id(),
        _school_of_student(),
        Column("screening_date", "date", "Date of screening", "วันที่คัดกรอง", True),
        Column("advisor_id", "str", "Advisor who screened", "รหัสครูที่ปรึกษา"),
        _level("learning", "ด้านการเรียน"),
        _level("health", "ด้านสุขภาพ"),
        _level("economic", "ด้านเศรษฐกิจ"),
        _level("protection", "ด้านการคุ้มครองนักเรียน"),
        _level("behaviour", "ด้านพฤติกรรม"),
        _level("sexual", "ด้านพฤติกรรมทางเพศ"),
        _level("emotional", "ด้านอารมณ์"),
        _level("internet", "ด้านการติดเกมและอินเทอร์เน็ต"),
        _sdq("sdq_total", 40, "SDQ total difficulties", "SDQ คะแนนรวม"),
        _sdq("sdq_emotional", 10, "SDQ emotional symptoms", "SDQ ด้านอารมณ์"),
        _sdq("sdq_conduct", 10, "SDQ conduct problems", "SDQ ด้านความประพฤติ"),
        _sdq("sdq_hyperactivity", 10, "SDQ hyperactivity", "SDQ ด้านสมาธิสั้น"),
        _sdq("sdq_peer", 10, "SDQ peer problems", "SDQ ด้านความสัมพันธ์กับเพื่อน"),
        _sdq("sdq_prosocial", 10, "SDQ prosocial behaviour", "SDQ ด้านสัมพันธภาพทางสังคม"),
        _level("overall", "ผลการคัดกรองรวม"),
    ),
    key=("school_id", "student_id", "screening_date"),
    student_ref="student_id",
    school_refs=("school_id",),
)

INTERVENTIONS = Source(
    "interventions",
    "action taken",
    "การช่วยเหลือ",
    (
        _student_id(),
        _school_of_student(),
        Column("date", "date", "Date of the action", "วันที่", True),
        Column(
            "type",
            "category",
            "What was done",
            "ประเภท",
            True,
            allowed=INTERVENTION_TYPES,
            aliases=INTERVENTION_ALIASES,
        ),
        Column(
            "outcome",
            "category",
            "How it went",
            "ผล",
            allowed=INTERVENTION_OUTCOMES,
            aliases=OUTCOME_ALIASES,
        ),
        Column("staff_id", "str", "Staff member", "รหัสบุคลากร"),
    ),
    key=("school_id", "student_id", "date", "type"),
    student_ref="student_id",
    school_refs=("school_id",),
)

# Load order matters: references point backwards.
SOURCES: tuple[Source, ...] = (
    SCHOOLS,
    CALENDAR,
    STUDENTS,
    ENROLLMENTS,
    EXITS,
    ATTENDANCE,
    GRADES_SOURCE,
    ASSESSMENTS,
    HOUSEHOLD,
    SCREENINGS,
    INTERVENTIONS,
)
SOURCES_BY_NAME: Mapping[str, Source] = {s.name: s for s in SOURCES}
REQUIRED_SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCES if s.required)


def data_dictionary_markdown() -> str:
    """Render the contract as a Markdown data dictionary (English with the Thai terms)."""
    lines = [
        "# Data dictionary",
        "",
        "Generated from `schooldata/contract.py` by `ews contract`; do not edit by hand.",
        "A data directory holds one file per source: `NAME.csv` (UTF-8 with or without BOM,",
        "UTF-16 with its BOM, or Windows-874 / TIS-620; cells separated by commas, tabs or",
        'semicolons), tab-separated text `NAME.txt` / `NAME.tsv` (as Excel saves "Unicode',
        'Text"), a workbook `NAME.xlsx` / `NAME.xls` / `NAME.ods` (the sheet',
        "named after the source, in English or Thai, else every sheet holding its table, such",
        "as one per classroom) or",
        "`NAME.parquet`; title rows above the header and empty rows are skipped, and a header",
        "of two rows (a label merged over a group of columns, such as ผลการเรียนรายวิชา over",
        "the subjects' codes or a month over its days, each column named in the row below)",
        "reads as one; a workbook's cell merged down beside several rows (a room written once",
        "beside its students) is each row's, except in a register's days; a register's row",
        "of weekdays under its dates (จ อ พ พฤ ศ) is its header's. Files of",
        "single schools may sit in `schools/<school_id>/` beside them, and several files of a",
        "source in a folder named after it (`attendance/`: a register per classroom or month).",
        "`NAME` is the source's English or Thai name (`students`, `นักเรียน`). A file under",
        "another name (a school's export) is read by its headers when it is the folder's only",
        "file of its data; beside a file named after that data, or another holding it too (a",
        "download's second copy `students (1).xlsx`), none is guessed at, so that a copy set",
        "aside never loads: the load names each file it did not read, and why.",
        "Required sources: "
        + ", ".join(f"`{s}`" for s in REQUIRED_SOURCES)
        + " (in the first load; later loads bring what changed).",
        "A class list stands for both `students` and `enrollments` when no file of the other",
        "is there: each student's code (and name, title, ID as it has them), the class in a",
        "column (`ชั้น` ม.1/2) or in the sheet's name or title, and the term in columns or",
        "the title (`รายชื่อนักเรียนชั้น ม.1/2 ภาคเรียนที่ 1 ปีการศึกษา 2568`); an enrolment",
        "file naming its students likewise stands for the students file. A child's title and",
        "names in one column (`ชื่อ - สกุล`: ด.ช.สมชาย ใจดี) give the given and family names,",
        "and the title the sex when no column does. A grade book kept a",
        "sheet per subject may name the subject (`ท21101`, `20000-1101`), its credits and the",
        "term in each sheet's title (`รายวิชา ท21101 ภาษาไทย 1 จำนวน 1.5 หน่วยกิต`). A class's",
        "grade summary (ปพ.6: a row a student, a column a subject headed by its code, maybe",
        "its name and `(credits)` after, or by the subject's name as primary schools keep",
        "it, `ภาษาไทย`, `คณิตศาสตร์`, in three columns or more, the name then its code) is",
        "one grade per filled cell, the term in its title. A screening summary ticking each",
        "aspect's level (`ด้านการเรียน` merged over `ปกติ` `เสี่ยง` `มีปัญหา`, a tick in one)",
        "gives each aspect the level ticked (two ticks are a bad value), its date in the",
        "title (`วันที่คัดกรอง 15 มิ.ย. 2568`) when no column holds it.",
        "A unit in brackets after a header is read: another of the same kind is converted",
        "(`ระยะทางถึงโรงเรียน (เมตร)` to km, `เวลาเดินทาง (ชั่วโมง)` to minutes), one of another",
        "kind is not that column. Income given per person (`รายได้เฉลี่ยต่อคนต่อเดือน`, as the",
        "equity fund's screening gives it) is the household's income times its size; a row",
        "without the size keeps all but that value. A column no source reads is named in",
        "the load's report (`Not read in …`, and on the upload page), never dropped unseen;",
        "of two columns naming one (เพศ and คำนำหน้าชื่อ), the first is read, its blanks",
        "filled from the second, and a second saying otherwise on some row is named so",
        "(`Read in part in …`).",
        "A file about students from outside the school (the equity fund's screening, a",
        "hospital's list) may name each child by `national_id` (เลขประจำตัวประชาชน or G code)",
        "instead of `student_id`: the row is the student with that ID (matched as a keyed",
        "hash; the ID itself is not stored with the row), and a row no student's ID matches",
        "is rejected.",
        "",
        "A student is a school and its own code together (`school_id`, `student_id`): two",
        "schools may number different children alike, and loading one never touches the",
        "other's. Records about a student may leave `school_id` blank (or out) in a school's",
        "own folder or upload, and in a shared file where only one school uses the code;",
        "otherwise the row is rejected as ambiguous. The same child at several schools (a",
        "move, a transition, a return) is linked by the national ID or G code in `students`,",
        "never by name or birth date; a child without one stays unlinked. An ID that two or",
        "more students of one school carry in the same term (a column filled down, a child",
        "registered twice) cannot be one child's: it links none of them, each is looked for",
        "as a child of their own, and the load names their codes until the ID is corrected",
        "(one child under an old and a new code, never in the same term, stays one child).",
        "So is an ID given to students of two schools enrolled in the same term and marked",
        "present at both on the same days (3 or more): a child is at one school on a day",
        "(a child who moved, marked at one school and then the other, stays one child).",
        "A child's cases and returns follow them when their ID comes later. A number-only code",
        "a sheet stored as a number, losing its leading zeros (`5123` for `05123`), is read as",
        "the school's code when exactly one of its codes is that number, and reported as",
        "corrected; two such codes (`0777`, `777`) are never guessed between.",
        "",
        "Headers and words: the English column name, the Thai term or another listed header,",
        "in any case, with spaces or underscores as you like; Thai as files write it (ำ as",
        "ํ + า, แ as เเ, zero-width spaces) reads the same, and a unit or note in brackets",
        "after a header or a word is ignored (`รายได้ครัวเรือนต่อเดือน (บาท)`). Dates: ISO",
        "`YYYY-MM-DD`;",
        "`dd/mm/yyyy` or `dd/mm/yy` with a Buddhist-Era year",
        "(`10/11/68` is 10 November 2568); a Thai month (`10 มิ.ย. 2568`, `10 มิถุนายน 68`);",
        "or an Excel date or serial number. Thai digits (๐-๙) are read as digits. Booleans:",
        "true/false, 1/0, yes/no, ใช่/ไม่ใช่, มี/ไม่มี.",
        "**Bold** columns must be present and filled: a bad value there rejects the row.",
        "A bad value in any other column is blanked and reported as a warning; the row stays.",
        "A date of something that happened (a day of attendance, a grade's recorded date, an",
        "assessment, a survey, a screening, a help, an exit) or a birth date cannot be after",
        "today: `10/6/2068` is `10/6/2568` with a digit lost, and is refused as such.",
        "",
        "Attendance may also come as a class register: one sheet a month, one row per",
        "student, one column per school day with the date in the header (ISO or Buddhist",
        "Era), or its day number (1-31) when the sheet's name or title names the month and",
        "year (`พ.ย. 67`, `เดือนพฤศจิกายน พ.ศ. 2567`), and marks `/` present, `ข` absent,",
        "`ส` late, `ป` sick leave, `ล` personal leave (or the words below). A blank cell is",
        "*not recorded*, never absent.",
        "",
    ]
    for source in SOURCES:
        req = " (required)" if source.name in REQUIRED_SOURCES else ""
        lines += [
            f"## `{source.name}`: {source.thai}{req}",
            "",
            f"One row per {source.one_row_per}. Natural key: {', '.join(source.key)}.",
            "",
            "| column | Thai header (or) | type | allowed values / range | description |",
            "|---|---|---|---|---|",
        ]
        for c in source.columns:
            name = f"**{c.name}**" if c.required else c.name
            allowed = ""
            if c.allowed:
                allowed = ", ".join(c.allowed)
            elif c.min is not None and c.max is not None:
                allowed = f"{c.min:g} – {c.max:g}"
            elif c.pattern:
                allowed = f"`{c.pattern}`"
            if c.aliases:
                shown = [f"{k}→{v}" for k, v in c.aliases.items() if not k.isascii()]
                more = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
                allowed += ("; also " if allowed else "any; ") + ", ".join(shown[:12]) + more
            thai = " / ".join(h for h in (c.thai, *c.headers) if h)
            lines.append(f"| {name} | {thai} | {c.kind} | {allowed} | {c.description} |")
        lines.append("")
    return "\n".join(lines)
