"""a school's students keyed by the school and its own code, one person across schools,
returned children, history grants

Every record about a student gains the school whose code it names, and the school joins
every key: two schools may number different children alike. Each student gets the person
key that links one child across schools (``schooldata.identity``). Every row is kept:

- a student who was enrolled at one school: their records are that school's;
- a student who was enrolled at several (before, one code followed the child): each
  record goes to the school they were enrolled at when it was made (the latest term
  that had started by its date, else their first), a student row is made for every
  such school, and all of them stay one person.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Records about a student, with the date that places each in a term (grades: their term).
DATED = {
    "exits": "exit_date",
    "attendance": "date",
    "assessments": "date",
    "household": "survey_date",
    "screenings": "screening_date",
    "interventions": "date",
    "grades": None,
}
STUDENT_COLUMNS = [
    "student_id",
    "school_id",
    "given_name",
    "family_name",
    "national_id_hash",
    "sex",
    "birth_date",
    "nationality",
    "disability",
]


def upgrade() -> None:
    from schooldata.calendar import Calendar
    from schooldata.identity import linked_person, unlinked_person

    bind = op.get_bind()
    enrollments = pd.read_sql(
        "SELECT student_id, academic_year, term, school_id FROM enrollments", bind
    )
    students = pd.read_sql(f"SELECT {', '.join(STUDENT_COLUMNS)} FROM students", bind)
    calendar = pd.read_sql("SELECT * FROM calendar", bind)
    years = enrollments["academic_year"].astype(int).unique()
    terms = Calendar.build(calendar if len(calendar) else None, years)
    spells = _spells(enrollments, terms)
    home = dict(zip(students["student_id"], students["school_id"], strict=True))
    schools_of = spells.groupby("student_id")["school_id"].nunique()
    movers = set(schools_of[schools_of > 1].index) | {
        s
        for s, school in zip(spells["student_id"], spells["school_id"], strict=True)
        if home.get(s) not in (None, school)
    }

    # Students keep their school; every record goes to the school of its time.
    _rekey(
        "students",
        ["school_id", "student_id"],
        "",
        extra_columns=[sa.Column("person_id", sa.String(), nullable=True)],
    )
    op.create_table(
        "enrollments_0011",
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("grade_level", sa.String(), nullable=False),
        sa.Column("classroom", sa.String(), nullable=True),
        sa.Column("advisor_id", sa.String(), nullable=True),
        sa.Column("snapshot_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("school_id", "student_id", "academic_year", "term"),
    )
    columns = (
        "student_id, academic_year, term, school_id, grade_level, classroom, advisor_id, "
        "snapshot_date"
    )
    op.execute(f"INSERT INTO enrollments_0011 ({columns}) SELECT {columns} FROM enrollments")
    op.drop_table("enrollments")
    op.rename_table("enrollments_0011", "enrollments")
    own_school = (
        "COALESCE((SELECT s.school_id FROM students s WHERE s.student_id = t.student_id), '')"
    )
    moving = spells[spells["student_id"].isin(movers)]
    for name, date_column in DATED.items():
        _rekey(name, None, own_school)
        if len(moving):
            _place_movers(name, date_column, moving)

    # A mover is a student of every school they were at, and one person at all of them.
    extra = moving[["student_id", "school_id"]].drop_duplicates()
    extra = extra[extra["school_id"].to_numpy() != extra["student_id"].map(home).to_numpy()]
    extra = extra.merge(students.drop(columns=["school_id"]), on="student_id", how="inner")
    if len(extra):
        op.bulk_insert(
            sa.table("students", *(sa.column(c) for c in STUDENT_COLUMNS)),
            [
                {c: (None if pd.isna(v) else v) for c, v in row.items()}
                for row in extra[STUDENT_COLUMNS].to_dict("records")
            ],
        )
    person = [
        {
            "b_sid": s,
            "b_pid": linked_person(h) if isinstance(h, str) and h else unlinked_person(school, s),
        }
        for s, school, h in zip(
            students["student_id"],
            students["school_id"],
            students["national_id_hash"],
            strict=True,
        )
    ]
    table = sa.table("students", sa.column("student_id"), sa.column("person_id"))
    if person:
        bind.execute(
            sa.update(table)
            .where(table.c.student_id == sa.bindparam("b_sid"))
            .values(person_id=sa.bindparam("b_pid")),
            person,
        )
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.String(), nullable=False)
        batch_op.create_index("ix_students_person_id", ["person_id"], unique=False)
        batch_op.create_index("ix_students_national_id_hash", ["national_id_hash"], unique=False)

    # The week's stored scores: a school's student in a run.
    _rekey_scores()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school_id", sa.String(), nullable=True))
    op.create_table(
        "student_returns",
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("left_school_id", sa.String(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=False),
        sa.Column("left_again_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("school_id", "student_id", "returned_on"),
    )
    op.create_index("ix_student_returns_person_id", "student_returns", ["person_id"])
    op.create_table(
        "history_grants",
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("school_id", "student_id"),
    )


def _spells(enrollments: pd.DataFrame, calendar: object) -> pd.DataFrame:
    """Each enrolment with its term's first day at its school, in order."""
    from schooldata.calendar import Calendar

    assert isinstance(calendar, Calendar)
    terms = calendar.terms_for(enrollments["school_id"].unique())
    spells = enrollments.merge(
        terms[["school_id", "academic_year", "term", "start_date"]],
        on=["school_id", "academic_year", "term"],
        how="left",
    )
    return spells.sort_values(["student_id", "start_date"]).reset_index(drop=True)


def _rekey(
    name: str,
    key: list[str] | None,
    school: str,
    extra_columns: Sequence[sa.Column] = (),  # type: ignore[type-arg]
) -> None:
    """Copy ``name`` into a table with ``school_id`` first in its key (``school``: the
    SQL giving each old row its school), keeping every row."""
    bind = op.get_bind()
    old = sa.Table(name, sa.MetaData(), autoload_with=bind)
    old_key = [c.name for c in old.primary_key.columns]
    has_school = "school_id" in old.c
    columns = [] if has_school else [sa.Column("school_id", sa.String(), nullable=False)]
    for c in old.c:
        in_key = c.name in (key or old_key) or c.name == "school_id"
        columns.append(
            sa.Column(
                c.name,
                c.type,
                nullable=False if in_key else c.nullable,
                primary_key=c.name == "intervention_id",
                autoincrement=c.name == "intervention_id",
                server_default=c.server_default,
            )
        )
    columns += list(extra_columns)
    new_key = key or ["school_id", *[k for k in old_key if k != "intervention_id"]]
    constraints = [] if "intervention_id" in old.c else [sa.PrimaryKeyConstraint(*new_key)]
    op.create_table(f"{name}_0011", *columns, *constraints)
    names = [c.name for c in old.c]
    selected = ", ".join(f"t.{c}" for c in names)
    if has_school:
        op.execute(f"INSERT INTO {name}_0011 ({', '.join(names)}) SELECT {selected} FROM {name} t")
    else:
        op.execute(
            f"INSERT INTO {name}_0011 (school_id, {', '.join(names)}) "
            f"SELECT {school}, {selected} FROM {name} t"
        )
    op.drop_table(name)
    op.rename_table(f"{name}_0011", name)
    if name == "interventions":
        op.create_index(
            "uq_interventions_imported",
            "interventions",
            ["school_id", "student_id", "date", "type"],
            unique=True,
            sqlite_where=sa.text("origin = 'import'"),
            postgresql_where=sa.text("origin = 'import'"),
        )
        if bind.dialect.name == "postgresql":
            # The copy set the sequence's values by hand: continue after them.
            op.execute(
                "SELECT setval(pg_get_serial_sequence('interventions', 'intervention_id'), "
                "COALESCE((SELECT MAX(intervention_id) FROM interventions), 0) + 1, false)"
            )


def _place_movers(name: str, date_column: str | None, spells: pd.DataFrame) -> None:
    """The records of students who were at several schools go to the school they were
    enrolled at when each was made: from each term's first day until the next term's
    of theirs (the first term's school also takes what came before it)."""
    bind = op.get_bind()
    table = sa.Table(name, sa.MetaData(), autoload_with=bind)
    if date_column is None:
        changes = [
            {"b_school": school, "b_sid": student, "b_year": int(year), "b_term": int(term)}
            for student, school, year, term in zip(
                spells["student_id"],
                spells["school_id"],
                spells["academic_year"],
                spells["term"],
                strict=True,
            )
        ]
        condition = (
            (table.c.student_id == sa.bindparam("b_sid"))
            & (table.c.academic_year == sa.bindparam("b_year"))
            & (table.c.term == sa.bindparam("b_term"))
        )
    else:
        changes = []
        for student, own in spells.groupby("student_id", sort=False):
            starts = pd.to_datetime(own["start_date"]).dt.date.tolist()
            schools = own["school_id"].tolist()
            for i, school in enumerate(schools):
                changes.append(
                    {
                        "b_school": school,
                        "b_sid": student,
                        "since": date(1, 1, 1) if i == 0 else starts[i],
                        "until": starts[i + 1] if i + 1 < len(starts) else date(9999, 12, 31),
                    }
                )
        day = table.c[date_column]
        condition = (
            (table.c.student_id == sa.bindparam("b_sid"))
            & (day >= sa.bindparam("since", type_=sa.Date()))
            & (day < sa.bindparam("until", type_=sa.Date()))
        )
    if changes:
        bind.execute(
            sa.update(table).where(condition).values(school_id=sa.bindparam("b_school")), changes
        )


def _rekey_scores() -> None:
    op.create_table(
        "student_scores_0011",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("advisor_id", sa.String(), nullable=True),
        sa.Column("classroom", sa.String(), nullable=True),
        sa.Column("grade_level", sa.String(), nullable=True),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("raw_score", sa.Float(), nullable=False),
        sa.Column("base_value", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("rank_in_school", sa.Integer(), nullable=False),
        sa.Column("rank_in_advisor", sa.Integer(), nullable=False),
        sa.Column("risk_vs_school", sa.Float(), nullable=True),
        sa.Column("contributions", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("suggested_step_th", sa.String(), nullable=True),
        sa.Column("suggested_step_en", sa.String(), nullable=True),
        sa.Column("change", sa.String(), nullable=False),
        sa.Column("previous_rank_in_school", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["score_runs.run_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "school_id", "student_id"),
    )
    columns = (
        "run_id, school_id, student_id, advisor_id, classroom, grade_level, risk, raw_score, "
        "base_value, tier, rank_in_school, rank_in_advisor, risk_vs_school, contributions, "
        "reasons, suggested_step_th, suggested_step_en, change, previous_rank_in_school"
    )
    op.execute(f"INSERT INTO student_scores_0011 ({columns}) SELECT {columns} FROM student_scores")
    op.drop_table("student_scores")
    op.rename_table("student_scores_0011", "student_scores")
    op.create_index("ix_student_scores_school_id", "student_scores", ["school_id"])
    op.create_index("ix_student_scores_advisor_id", "student_scores", ["advisor_id"])
    op.create_index(
        "ix_student_scores_run_school_rank",
        "student_scores",
        ["run_id", "school_id", "rank_in_school"],
    )
    op.create_index(
        "ix_student_scores_run_advisor_rank",
        "student_scores",
        ["run_id", "school_id", "advisor_id", "rank_in_advisor"],
    )


def downgrade() -> None:
    raise NotImplementedError("0011 cannot be undone: two schools' students may now share a code")
