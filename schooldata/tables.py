"""The operational database's tables: one per data-contract source, plus the service's own.

The contract tables follow ``schooldata.contract`` column by column (national IDs only as
their keyed hash). The service tables hold accounts, the audit log and the weekly
scores. All live in one migration history (``schooldata/migrations``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from schooldata.contract import SOURCES, Source

metadata = sa.MetaData()

_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "str": sa.String,
    "category": sa.String,
    "int": sa.Integer,
    "float": sa.Float,
    "date": sa.Date,
    "bool": sa.Boolean,
}


def stored_column_name(source: Source, name: str) -> str:
    """National IDs are stored only as their keyed hash."""
    return "national_id_hash" if source.column(name).kind == "national_id" else name


# Interventions are append-only: the service records who wrote each one, and a
# correction is a new record pointing to the one it corrects. Records loaded from a
# school's file ("import") keep their natural key, so loading a file twice changes nothing.
APPEND_ONLY = {"interventions"}
ORIGIN_IMPORT = "import"
ORIGIN_SERVICE = "service"


def _table_for(source: Source) -> sa.Table:
    if source.name in APPEND_ONLY:
        return _append_only(source)
    columns = []
    if source.name == "students":
        # The child behind the school's code (``schooldata.identity``): the same for
        # every school's record of a child with the same national ID or G code.
        columns.append(sa.Column("person_id", sa.String, nullable=False, index=True))
    for c in source.columns:
        if c.kind == "national_id":
            columns.append(sa.Column("national_id_hash", sa.String(64), nullable=True, index=True))
            continue
        in_key = c.name in source.key
        # Key columns are never NULL; calendar's "every school" row stores school_id ''.
        columns.append(
            sa.Column(
                c.name, _TYPES[c.kind](), primary_key=in_key, nullable=not (c.required or in_key)
            )
        )
    return sa.Table(source.name, metadata, *columns)


def _append_only(source: Source) -> sa.Table:
    columns: list[sa.Column[Any]] = [
        sa.Column(f"{source.name[:-1]}_id", sa.Integer, primary_key=True, autoincrement=True)
    ]
    columns += [
        sa.Column(c.name, _TYPES[c.kind](), nullable=not (c.required or c.name in source.key))
        for c in source.columns
    ]
    columns += [
        sa.Column("origin", sa.String, nullable=False, server_default=ORIGIN_IMPORT),
        sa.Column("recorded_by", sa.Integer, nullable=True),  # the user; None: imported
        sa.Column("recorded_at", sa.DateTime, nullable=True),
        sa.Column("corrects", sa.Integer, nullable=True),  # the record this one corrects
        # The sender's Idempotency-Key (the API): one record per account and key.
        sa.Column("request_key", sa.String(100), nullable=True),
    ]
    # A withdrawn record's number is never given to another (migration 0030).
    table = sa.Table(source.name, metadata, *columns, sqlite_autoincrement=True)
    sa.Index(
        f"uq_{source.name}_request",
        table.c.recorded_by,
        table.c.request_key,
        unique=True,
        sqlite_where=table.c.request_key.isnot(None),
        postgresql_where=table.c.request_key.isnot(None),
    )
    sa.Index(
        f"uq_{source.name}_imported",
        *[table.c[k] for k in source.key],
        unique=True,
        sqlite_where=table.c.origin == ORIGIN_IMPORT,
        postgresql_where=table.c.origin == ORIGIN_IMPORT,
    )
    # Every record by its key, the pages' too: a list reads its students' records by
    # school and code (the partial index above holds only the imported ones).
    sa.Index(f"ix_{source.name}_key", *[table.c[k] for k in source.key])
    # A kind of help in a period: the area page's open referrals.
    if "type" in table.c and "date" in table.c:
        sa.Index(f"ix_{source.name}_type_date", table.c.type, table.c.date)
    # Help of any kind in a period, read from the index alone: the area page's high-tier
    # students helped in the last 30 days (else a scan of every record of the country).
    if "date" in table.c:
        sa.Index(
            f"ix_{source.name}_date",
            table.c.date,
            table.c.school_id,
            table.c.student_id,
            columns[0],  # the record's ID: "in force" without the table
        )
    # The few corrected records: "in force" asks which ones on every list.
    sa.Index(
        f"ix_{source.name}_corrects",
        table.c.corrects,
        sqlite_where=table.c.corrects.is_not(None),
        postgresql_where=table.c.corrects.is_not(None),
    )
    return table


TABLES: dict[str, sa.Table] = {s.name: _table_for(s) for s in SOURCES}


# Tables the serving side writes: accounts, the audit log and the weekly scores. They live
# in the same operational database and migration history as the contract tables.
users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("staff_id", sa.String, nullable=True),
    sa.Column("school_id", sa.String, nullable=True),
    sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("token_expires_at", sa.DateTime, nullable=True),
    # The last day (Bangkok) the token was used: an admin is told to renew a token in use
    # before it expires (``serving.accounts.tokens_to_renew``).
    sa.Column("token_used_on", sa.Date, nullable=True),
    sa.Column("username", sa.String, nullable=True, unique=True),
    sa.Column("password_hash", sa.String, nullable=True),
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    # Where the weekly message goes (null: none), and whether the person wants it.
    sa.Column("email", sa.String, nullable=True),
    sa.Column("notify", sa.Boolean, nullable=False, server_default=sa.true()),
    # A committee member who chairs the school's care committee: reads restricted notes.
    sa.Column("chair", sa.Boolean, nullable=False, server_default=sa.false()),
    # An area office following a province: every school of it in the schools file, as
    # each loads (besides those listed in ``user_schools``).
    sa.Column("province", sa.String, nullable=True),
)

# Web sessions live here, not only in a cookie: signing out or losing the account ends
# them at once, and a copied cookie stops working.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime, nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=True),  # None: a command line or nobody
    sa.Column("student_id", sa.String, nullable=True),
    # The school whose code student_id is (null in rows written before migration 0011).
    sa.Column("school_id", sa.String, nullable=True),
    sa.Column("endpoint", sa.String, nullable=False),
    sa.Column("action", sa.String, nullable=False, server_default="read"),
    sa.Column("actor", sa.String, nullable=True),  # who, when not a user ("cli:root")
    sa.Column("detail", sa.String, nullable=True),
    # Each row's hash covers the previous row's: editing or deleting a row breaks the chain.
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("row_hash", sa.String(64), nullable=True),
)

# Who opened which school's list on which day (Bangkok's), once a day: written with the
# audit log's rows of each reading of a list (``schooldata.audit``), so the actions page
# counts lists opened without reading the log (a row for every student a list shows).
lists_opened = sa.Table(
    "lists_opened",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),  # first: a week's, of every school
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("user_id", sa.Integer, primary_key=True),
)

# An area office (education service area, province) follows a set of schools.
user_schools = sa.Table(
    "user_schools",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("school_id", sa.String, primary_key=True),
)

# Each school term's lists checked against who then left (ews outcomes).
list_outcomes = sa.Table(
    "list_outcomes",
    metadata,
    sa.Column("model_version", sa.String, primary_key=True),
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("academic_year", sa.Integer, primary_key=True),
    sa.Column("term", sa.Integer, primary_key=True),
    sa.Column("weeks", sa.Integer, nullable=False),
    sa.Column("students", sa.Integer, nullable=False),
    sa.Column("left", sa.Integer, nullable=False),
    sa.Column("found", sa.Integer, nullable=False),
    sa.Column("found_in_time", sa.Integer, nullable=False),  # 4 or more weeks ahead
    # 8 or more weeks ahead; missing in figures judged before it was counted.
    sa.Column("found_8w", sa.Integer, nullable=True),
    # The same two on the school's weekly home-visit plans replayed from its lists (its
    # capacity a week in list order, leaving out whom the plan took in the 30 days
    # before); missing in figures judged before they were counted.
    sa.Column("planned_in_time", sa.Integer, nullable=True),
    sa.Column("planned_8w", sa.Integer, nullable=True),
    sa.Column("missed", sa.Integer, nullable=False),
    sa.Column("median_lead_weeks", sa.Float, nullable=True),
    sa.Column("flagged", sa.Integer, nullable=False),
    sa.Column("flagged_helped", sa.Integer, nullable=False),
    # Weeks scored after the fact (more than two weeks after their date), as the demo
    # does: a model may have been trained on them, so their figures flatter it.
    sa.Column("backfilled_weeks", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
)
# The figures of ``list_outcomes`` that count students: over several schools, their sum.
OUTCOME_COUNTS = (
    "students",
    "left",
    "found",
    "found_in_time",
    "found_8w",
    "planned_in_time",
    "planned_8w",
    "missed",
    "flagged",
    "flagged_helped",
)

# Schools whose committees see the home-visit plan in benefit order beside the risk
# order: an analyst turns it on per school after reading the effect estimates.
plan_orders = sa.Table(
    "plan_orders",
    metadata,
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("benefit_order", sa.Boolean, nullable=False),
    sa.Column("set_by", sa.Integer, nullable=False),
    sa.Column("set_at", sa.DateTime, nullable=False),
)

score_runs = sa.Table(
    "score_runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("model_version", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("students", sa.Integer, nullable=False),
    # The model's inputs, in the order of every row's stored contributions (a JSON list);
    # null for runs that stored the names in each row.
    sa.Column("features", sa.Text, nullable=True),
    # What made the list: lightgbm, logistic or abc_rule (null: runs before migration 0012,
    # all LightGBM).
    sa.Column("scorer", sa.String, nullable=True),
    sa.UniqueConstraint("as_of", "model_version", name="uq_score_runs_week_model"),
)

# Every weekly run the service's scheduler started, skipped or failed, and every school
# rerun after an upload. A row is also the lease: the unique key lets one server worker
# of many take a week (or a school's rerun); a "running" row older than the lease may be
# taken over by another worker (its holder died).
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String, nullable=False),  # weekly, school
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("school_id", sa.String, nullable=False, server_default=""),  # "": every school
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("status", sa.String, nullable=False),  # running, done, skipped, failed
    sa.Column("trigger", sa.String, nullable=False),  # schedule, upload, command
    sa.Column("holder", sa.String, nullable=True),  # which process holds the lease
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("scorer", sa.String, nullable=True),
    sa.Column("students", sa.Integer, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),  # why skipped, which schools were stale
    sa.Column("error_id", sa.String, nullable=True),  # a failure's id (its log line)
    sa.UniqueConstraint("kind", "as_of", "school_id", "attempt", name="uq_job_runs_attempt"),
)

# Every message the weekly run sent (or failed to send): counts and a link, never a child.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("notification_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("channel", sa.String, nullable=False),  # email, webhook
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("school_id", sa.String, nullable=True),
    sa.Column("status", sa.String, nullable=False),  # sent, failed
    sa.Column("detail", sa.String, nullable=True),
    sa.Column("at", sa.DateTime, nullable=False),
)

# Each run's schools: how fresh their records were, and whether they were left out.
run_schools = sa.Table(
    "run_schools",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("enrolled", sa.Integer, nullable=False),
    sa.Column("scored", sa.Integer, nullable=False),
    sa.Column("newest_attendance", sa.Date),
    sa.Column("newest_coursework", sa.Date),
    sa.Column("newest_screening", sa.Date),
    sa.Column("school_days_missing", sa.Integer),
    sa.Column("stale", sa.Boolean, nullable=False),
    # The school's list that week, counted once when the run is stored (the area page
    # reads these instead of counting a country's rows on every request; empty for runs
    # stored before migration 0009).
    sa.Column("high", sa.Integer, nullable=True),
    sa.Column("watch", sa.Integer, nullable=True),
    sa.Column("new_on_list", sa.Integer, nullable=True),
    # The school's weekly home-visit capacity when the run was stored (the plan's own
    # default where it set none), by which ``ews outcomes`` replays that week's plan;
    # empty for runs stored before migration 0017 (replayed at today's capacity).
    sa.Column("visit_capacity", sa.Integer, nullable=True),
)

# Each run's model inputs against the training reference (riskmodel.input_counts).
run_drift = sa.Table(
    "run_drift",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("feature", sa.String, primary_key=True),
    sa.Column("phase", sa.String, primary_key=True),
    sa.Column("psi", sa.Float, nullable=False),
    sa.Column("missing_then", sa.Float, nullable=False),
    sa.Column("missing_now", sa.Float, nullable=False),
    sa.Column("status", sa.String, nullable=False),
)

student_scores = sa.Table(
    "student_scores",
    metadata,
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("score_runs.run_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("school_id", sa.String, primary_key=True, index=True),
    sa.Column("student_id", sa.String, primary_key=True),
    sa.Column("advisor_id", sa.String, nullable=True, index=True),
    sa.Column("classroom", sa.String, nullable=True),
    sa.Column("grade_level", sa.String, nullable=True),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("raw_score", sa.Float, nullable=False),
    sa.Column("base_value", sa.Float, nullable=False),
    sa.Column("tier", sa.String, nullable=False),
    sa.Column("rank_in_school", sa.Integer, nullable=False),
    sa.Column("rank_in_advisor", sa.Integer, nullable=False),
    sa.Column("risk_vs_school", sa.Float, nullable=True),
    sa.Column("contributions", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("suggested_step_th", sa.String, nullable=True),
    sa.Column("suggested_step_en", sa.String, nullable=True),
    sa.Column("change", sa.String, nullable=False),
    sa.Column("previous_rank_in_school", sa.Integer, nullable=True),
    # A week's list of a school or an advisor, in rank order, without reading other weeks.
    sa.Index("ix_student_scores_run_school_rank", "run_id", "school_id", "rank_in_school"),
    sa.Index(
        "ix_student_scores_run_advisor_rank", "run_id", "school_id", "advisor_id", "rank_in_advisor"
    ),
    # A week's high tier, a few in a hundred: the area page counts who of them had help.
    sa.Index(
        "ix_student_scores_run_high",
        "run_id",
        "school_id",
        "student_id",
        sqlite_where=sa.text("tier = 'high'"),
        postgresql_where=sa.text("tier = 'high'"),
    ),
    # A week's students on a list (high or watch), a tenth of its rows: who of them
    # nobody acted on, and the first week each was on a list (``first_flags``).
    sa.Index(
        "ix_student_scores_flagged",
        "run_id",
        "school_id",
        "student_id",
        sqlite_where=sa.text("tier IN ('high', 'watch')"),
        postgresql_where=sa.text("tier IN ('high', 'watch')"),
    ),
)

# The first week a stored list flagged each student (high or watch), kept by the weekly
# run as it stores a list (``serving.store``): since when a student nobody acted on has
# waited, without reading every week's list.
first_flags = sa.Table(
    "first_flags",
    metadata,
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("student_id", sa.String, primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
)

# Each student's last action: the latest date of their records of help in force, kept
# by every path that writes or removes help (``schooldata.actions``). A student nobody
# has helped has no row.
last_actions = sa.Table(
    "last_actions",
    metadata,
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("student_id", sa.String, primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
)

# Children who came back after leaving school (``schooldata.identity.returns``): each
# return's enrolment, where and when the child left, recomputed after every load. The
# advisor follows a returned child for some terms whatever their risk.
student_returns = sa.Table(
    "student_returns",
    metadata,
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("student_id", sa.String, primary_key=True),
    sa.Column("returned_on", sa.Date, primary_key=True),  # the return's term start
    sa.Column("academic_year", sa.Integer, nullable=False),
    sa.Column("term", sa.Integer, nullable=False),
    sa.Column("person_id", sa.String, nullable=False, index=True),
    sa.Column("left_school_id", sa.String, nullable=False),
    sa.Column("left_on", sa.Date, nullable=False),
    # Left again after coming back: the date (null while still at school).
    sa.Column("left_again_on", sa.Date, nullable=True),
)

# A school asks to see a child's records from the schools the child was at before (a move's
# history is otherwise shown only as features and reasons); the area office following both
# schools grants or declines, and may revoke a grant.
history_grants = sa.Table(
    "history_grants",
    metadata,
    sa.Column("school_id", sa.String, primary_key=True),
    sa.Column("student_id", sa.String, primary_key=True),
    sa.Column("requested_by", sa.Integer, nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String, nullable=False),  # requested, granted, declined, revoked
    sa.Column("decided_by", sa.Integer, nullable=True),
    sa.Column("decided_at", sa.DateTime, nullable=True),
)

# Children to look for (``schooldata.missing``): every child enrolled in a term and
# enrolled nowhere the next (or a P6 or M3 graduate enrolled nowhere the next year) whom no
# exit explains becomes a case of their last school, built again after every load. Staff
# follow a case to its end; a child found enrolled anywhere closes it by themselves.
missing_cases = sa.Table(
    "missing_cases",
    metadata,
    sa.Column("case_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String, nullable=False, index=True),
    # The last school and its code for the child: the case's school.
    sa.Column("school_id", sa.String, nullable=False, index=True),
    sa.Column("student_id", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),  # left (between terms) or transition
    sa.Column("grade_level", sa.String, nullable=False),  # in the last term enrolled
    sa.Column("last_year", sa.Integer, nullable=False),  # the last term enrolled
    sa.Column("last_term", sa.Integer, nullable=False),
    sa.Column("expected_year", sa.Integer, nullable=False),  # the term they were not in
    sa.Column("expected_term", sa.Integer, nullable=False),
    sa.Column("opened_on", sa.Date, nullable=False),  # that term's start
    sa.Column("status", sa.String, nullable=False),
    sa.Column("status_on", sa.Date, nullable=False),  # since when
    sa.Column("owner_user_id", sa.Integer, nullable=True),  # who follows the case
    sa.Column("reason_code", sa.Integer, nullable=True),  # why the child left (DOMAIN codes)
    sa.Column("help_needed", sa.String, nullable=True),
    sa.Column("agency", sa.String, nullable=True),  # referred to (found, cannot return yet)
    sa.Column("found_school_id", sa.String, nullable=True),  # returning to, or enrolled at
    sa.Column("found_on", sa.Date, nullable=True),
    sa.Column("closed_on", sa.Date, nullable=True),
    sa.UniqueConstraint("person_id", "expected_year", "expected_term", name="uq_missing_case"),
    sqlite_autoincrement=True,  # a merged case's number is never another's (0030)
)

# Notes on a missing child's case: read only by the staff who follow the case.
missing_case_notes = sa.Table(
    "missing_case_notes",
    metadata,
    sa.Column("note_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "case_id",
        sa.Integer,
        sa.ForeignKey("missing_cases.case_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("author_user_id", sa.Integer, nullable=False),
    sa.Column("written_at", sa.DateTime, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

# Follow-through (``serving.cases``): a flagged student's case, with a plan, an owner and
# reviews every few weeks; its steps are the student's interventions while it is open.
# One open case per student at a time; closed ones are kept.
support_cases = sa.Table(
    "support_cases",
    metadata,
    sa.Column("case_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("school_id", sa.String, nullable=False, index=True),
    sa.Column("student_id", sa.String, nullable=False),
    sa.Column("opened_by", sa.Integer, nullable=False),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("owner_user_id", sa.Integer, nullable=False),
    sa.Column("planned", sa.String, nullable=False),  # the step planned (an intervention type)
    sa.Column("plan_text", sa.Text, nullable=True),
    sa.Column("review_every_days", sa.Integer, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),  # the plan's length
    sa.Column("next_review", sa.Date, nullable=True),
    sa.Column("closed_on", sa.Date, nullable=True),
    sa.Column("closed_by", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String, nullable=True),
)
sa.Index(
    "uq_support_cases_open",
    support_cases.c.school_id,
    support_cases.c.student_id,
    unique=True,
    sqlite_where=support_cases.c.closed_on.is_(None),
    postgresql_where=support_cases.c.closed_on.is_(None),
)

# What happened to a case: opened, reviewed, closed (with who and what was said).
case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "case_id",
        sa.Integer,
        sa.ForeignKey("support_cases.case_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
)

# Notes on a case. A note marked protection or health is read only by its author and the
# school's committee chair, and leaves the service (a brief) only when its author says so.
case_notes = sa.Table(
    "case_notes",
    metadata,
    sa.Column("note_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "case_id",
        sa.Integer,
        sa.ForeignKey("support_cases.case_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("author_user_id", sa.Integer, nullable=False),
    sa.Column("written_at", sa.DateTime, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("restricted", sa.String, nullable=True),  # None, protection or health
    sa.Column("in_brief", sa.Boolean, nullable=False, server_default=sa.false()),
)

# The forms of the pages acted on: each form is drawn with a key of its own, and what it
# asks is done once for that key (a double click on Save, a form sent again after its
# answer was lost). ``digest`` is a hash of what the form asked, to tell the same form
# sent again from an old form sent back with something else in it. Kept a few weeks.
forms_sent = sa.Table(
    "forms_sent",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("form_key", sa.String, primary_key=True),
    sa.Column("digest", sa.String, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False, index=True),
)


# A school's uploads (``schooldata.loads``): its latest one keeps the school's rows of
# every table it wrote as they were before it, so that it can be undone.
loads = sa.Table(
    "loads",
    metadata,
    sa.Column("load_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("school_id", sa.String, nullable=False, index=True),
    sa.Column("loaded_by", sa.Integer, nullable=True),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
    sa.Column("summary", sa.String, nullable=True),  # counts only, as the audit's
    sa.Column("undone_at", sa.DateTime, nullable=True),
    sa.Column("undone_by", sa.Integer, nullable=True),
)

load_snapshots = sa.Table(
    "load_snapshots",
    metadata,
    sa.Column("load_id", sa.Integer, primary_key=True),
    sa.Column("table_name", sa.String, primary_key=True),
    # The part of the school's table kept (JSON): the days or the terms the upload held.
    sa.Column("part", sa.String, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("rows", sa.LargeBinary, nullable=False),  # JSON, compressed
)
