"""Request and response models of the JSON API (OpenAPI at /docs)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.catalog import catalog, value_range
from schooldata.contract import INTERVENTION_OUTCOMES, INTERVENTION_TYPES
from schooldata.missing import STAFF_STATUSES

MAX_STUDENTS_PER_REQUEST = 500

# A record's number in an address or a body (a case, an account, an intervention): a
# number past the records' integer column answers 422. Those are 32-bit on PostgreSQL,
# which refused 3,000,000,000 as out of range (a server error), where SQLite answered
# "no such record".
MAX_RECORD_ID = 2**31 - 1
RecordId = Annotated[int, annotated_types.Interval(ge=1, le=MAX_RECORD_ID)]

# A risk tier (``riskmodel.bundle.TIERS``): a filter asked for another answers 422 naming
# these, where it found nobody.
Tier = Literal["high", "watch", "low"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


SCORER_FIELD = Field(
    "lightgbm",
    description="What ranked: lightgbm, logistic, or abc_rule (the ABC rule, used until "
    "a first model passes its guards; its risk is the share of the three flags raised, "
    "not a probability).",
)


class Health(_Model):
    status: str
    champion_version: str
    scorer: str = "lightgbm"


class ModelInfo(_Model):
    version: str
    scorer: str = "lightgbm"
    features: list[str] = Field(description="The model's input names, in order.")
    horizon_days: int | None = Field(description="None for the ABC rule: nothing trained.")
    training_window: dict[str, str]
    test_metrics: dict[str, float]
    fairness_flags: list[str]


class Contribution(_Model):
    feature: str
    value: float | None
    shap: float = Field(description="Exact TreeSHAP contribution to the raw score (log-odds).")


class Reason(_Model):
    # Stored reasons also keep their weight (``shap``), which the API does not show.
    model_config = ConfigDict(extra="ignore")

    feature: str
    text_th: str
    text_en: str


class Score(_Model):
    risk: float = Field(description="Calibrated probability of leaving within the horizon.")
    tier: str
    raw_score: float
    base_value: float = Field(
        description="base_value plus the sum of the contributions is raw_score."
    )
    contributions: list[Contribution]
    reasons: list[Reason]
    suggested_step_th: str | None = None
    suggested_step_en: str | None = None


class StudentScore(Score):
    school_id: str
    student_id: str


StudentId = Annotated[str, Field(min_length=1, max_length=64)]


class ScoreRequest(_Model):
    student_ids: list[StudentId] = Field(
        min_length=1,
        max_length=MAX_STUDENTS_PER_REQUEST,
        description="The school's own student codes.",
    )
    school_id: str | None = Field(
        None, max_length=64, description="The students' school; defaults to the caller's."
    )
    as_of: dt.date | None = Field(None, description="Defaults to today.")


class FeatureRowsRequest(_Model):
    rows: list[dict[str, float | None]] = Field(
        min_length=1, description="Feature values by id; missing features are unknown (null)."
    )

    @model_validator(mode="after")
    def _known_features_in_range(self) -> FeatureRowsRequest:
        """Every feature must be in the catalog and within the values it can take."""
        entries = catalog()
        problems = []
        for number, row in enumerate(self.rows):
            for feature, value in row.items():
                spec = entries.get(feature)
                if spec is None:
                    problems.append(f"row {number}: unknown feature {feature[:60]!r}")
                    continue
                if value is None:
                    continue
                low, high = value_range(spec)
                if not math.isfinite(value) or not low <= value <= high:
                    problems.append(
                        f"row {number}: {feature}={value:g} is outside {low:g} to {high:g}"
                    )
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return self


class ScoreResponse(_Model):
    model_version: str
    scorer: str = SCORER_FIELD
    results: list[StudentScore]


class FeatureScoreResponse(_Model):
    model_version: str
    scorer: str = SCORER_FIELD
    results: list[Score]


class LastIntervention(_Model):
    date: dt.date
    type: str
    outcome: str | None


class ListedStudent(_Model):
    student_id: str
    name: str | None
    school_id: str
    advisor_id: str | None
    classroom: str | None
    grade_level: str | None
    rank_in_school: int
    rank_in_advisor: int
    risk: float
    risk_vs_school: float | None = Field(
        None, description="The risk over the school's average risk that week (2.0: twice it)."
    )
    tier: str
    reasons: list[Reason]
    suggested_step_th: str | None
    suggested_step_en: str | None
    change: str = Field(description="new on the list, up, down or same since the previous week.")
    last_intervention: LastIntervention | None
    returned_on: dt.date | None = Field(
        None,
        description="When the child came back to school after leaving (the term's first "
        "day), if they did within the follow-up terms; None otherwise.",
    )
    left_on: dt.date | None = Field(None, description="When they had left, before coming back.")


class ListedElsewhere(_Model):
    """A student of the school, enrolled this term, whom this week's list places at
    another school: the same child by their ID, marked at school there this term and not
    yet here. Moved here (on this school's list once it marks them at school), or given
    another child's ID (to check with the data officer)."""

    school_id: str
    student_id: str
    name: str | None
    classroom: str | None


class ReturnedStudent(_Model):
    """A child who came back to school after leaving: followed for some terms whatever
    their risk (``EWS_FOLLOW_RETURNED_TERMS``)."""

    school_id: str
    student_id: str
    name: str | None
    classroom: str | None
    returned_on: dt.date = Field(description="The first day of the term they came back in.")
    left_on: dt.date = Field(description="When they had left (their dropout, or term end).")
    from_other_school: bool = Field(description="They had left another school.")
    left_again_on: dt.date | None = Field(description="When they left again, if they did.")
    risk: float | None = Field(description="This week's risk (None: not on this week's list).")
    tier: str | None


class RiskList(_Model):
    as_of: dt.date
    model_version: str
    scorer: str = SCORER_FIELD
    students: list[ListedStudent]


class HistoryPoint(_Model):
    as_of: dt.date
    risk: float
    tier: str
    rank_in_school: int


class StudentDetail(_Model):
    school_id: str
    student_id: str
    name: str | None
    latest: ListedStudent | None
    model_version: str | None = Field(None, description="What made the latest score.")
    scorer: str = SCORER_FIELD
    returns: list[ReturnedStudent] = Field(
        default_factory=list, description="Each time the child came back to this school."
    )
    schools_before: list[str] = Field(
        default_factory=list,
        description="The other schools the child was a student of before (by the national "
        "ID or G code), oldest first: their history reaches this school only as features.",
    )
    contributions: list[Contribution]
    history: list[HistoryPoint]


class BenefitVisit(ListedStudent):
    visit_benefit: float = Field(
        description="How much a home visit is expected to lower the chance of leaving "
        "within the horizon (0.04: by 4 percentage points)."
    )
    addressable: float = Field(
        description="The chance of leaving for a reason a visit can address (not a move away)."
    )
    benefit_reasons: list[Reason] = Field(
        description="What raises that chance most for this student, strongest first."
    )


class HomeVisitPlan(_Model):
    school_id: str
    as_of: dt.date
    model_version: str = ""
    scorer: str = SCORER_FIELD
    capacity: int
    students: list[ListedStudent] = Field(description="The plan in risk order.")
    by_benefit: list[BenefitVisit] | None = Field(
        None,
        description="The same number of visits in order of their expected benefit, beside "
        "the risk order; only where an analyst turned it on for the school.",
    )
    benefit_effect: float | None = Field(
        None, description="The home-visit estimate the benefit order rests on (ews effects)."
    )


class InterventionIn(_Model):
    student_id: str = Field(min_length=1, max_length=64, description="The school's own code.")
    school_id: str | None = Field(
        None, max_length=64, description="The student's school; defaults to the caller's."
    )
    date: dt.date | None = Field(None, description="Defaults to today.")
    # The values are checked where the record is made (``records``); the schema lists them.
    type: str = Field(max_length=64, json_schema_extra={"enum": list(INTERVENTION_TYPES)})
    outcome: str | None = Field(
        None, max_length=64, json_schema_extra={"enum": list(INTERVENTION_OUTCOMES)}
    )
    corrects: RecordId | None = Field(
        None, description="The id of an earlier record this one corrects (it is kept)."
    )


class Intervention(_Model):
    intervention_id: int
    school_id: str
    student_id: str
    date: dt.date
    type: str
    outcome: str | None
    staff_id: str | None = Field(description="Who did it (the author's staff id).")
    corrects: int | None = None
    corrected: bool = Field(False, description="A later record corrects this one.")


class TrendPoint(_Model):
    as_of: dt.date
    high: int
    watch: int


class AreaSchool(_Model):
    """One school's figures for an area office: counts only, no student."""

    school_id: str
    name: str | None
    enrolled: int = Field(description="Students enrolled on the week's date.")
    scored: int = Field(description="Students given a risk (none when the data is stale).")
    high: int
    watch: int
    high_change: int | None = Field(description="High-risk students now minus last week.")
    new_on_list: int = Field(description="Students on the list (high or watch) this week only.")
    high_with_action_30d: int = Field(
        description="High-risk students with an intervention in the 30 days to the week."
    )
    open_referrals: int = Field(
        description="Students referred outside the school in the last 90 days, not refused "
        "or moved, still enrolled."
    )
    returned_followed: int = Field(
        0, description="Children back at school after leaving, within the follow-up terms."
    )
    returned_left_again: int = Field(0, description="Of those, the children who left again.")
    shared_ids: int = Field(
        0,
        description="Students whose national ID another student carries: of the school in "
        "the same term, or of another school marked at school on the same days. Linked by "
        "it to nobody until it is corrected.",
    )
    stale: bool = Field(
        description="Its newest attendance is too old for a list, or it has sent no "
        "enrolment of the week's term (enrolled 0, newest_attendance null)."
    )
    newest_attendance: dt.date | None
    trend: list[TrendPoint]


class ReferredCase(_Model):
    """A student whose case the school referred outside it: the one case an area office
    sees by name."""

    student_id: str
    name: str | None
    school_id: str
    date: dt.date
    type: str
    outcome: str | None
    tier: str | None = Field(description="Their tier on the week's list; null: not on it.")
    on_list: bool = Field(
        description="On the week's list. A child not on it (left, moved, or their school's "
        "term not sent yet) stays followed until the referral is closed or 90 days pass."
    )
    exit_date: dt.date | None = Field(
        description="Not on the list: their school's newest exit up to the week, if recorded."
    )
    exit_type: str | None = Field(description="That exit's type (dropout, transfer, …).")


class AreaSummary(_Model):
    as_of: dt.date
    previous_as_of: dt.date | None
    schools: list[AreaSchool]
    referred: list[ReferredCase]


class MissingCase(_Model):
    """A child to look for (``serving.worklist``): no notes (only the case's followers
    read them, on its page)."""

    case_id: int
    school_id: str
    student_id: str
    name: str | None
    kind: str = Field(description="left (not at school the next term) or transition")
    grade_level: str
    last_year: int
    last_term: int
    expected_year: int
    expected_term: int
    opened_on: dt.date
    days_open: int
    status: str
    status_on: dt.date
    owner: str | None
    reason_code: int | None
    help_needed: list[str]
    agency: str | None
    found_school_id: str | None
    found_on: dt.date | None
    closed_on: dt.date | None
    version: str = Field(
        description="A mark of the findings as they are; sent back with an update, the "
        "update is refused (409) if someone changed them since"
    )


class MissingCaseUpdate(_Model):
    """What staff found of a case; the status is required, the rest optional."""

    status: str = Field(
        description="What staff found (the other statuses are set by the files).",
        json_schema_extra={"enum": list(STAFF_STATUSES)},
    )
    owner_user_id: RecordId | None = None
    reason_code: int | None = Field(None, description="DMC codes 1-10, 11, 12, 99")
    help_needed: list[str] = Field(default_factory=list, max_length=9)
    agency: str | None = Field(None, max_length=200)
    found_school_id: str | None = Field(None, max_length=64)
    found_on: dt.date | None = None
    version: str | None = Field(
        None,
        max_length=32,
        description="The case's version as read: if its findings were changed since, "
        "the update is refused (409) and nothing is changed",
    )


class MissingCounts(_Model):
    """One school's cases by status, and its open ones by how long they have been open."""

    school_id: str
    name: str | None
    to_find: int
    statuses: dict[str, int]
    open_by_age: dict[str, int]
