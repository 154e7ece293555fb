"""The fairness audit: whom the weekly lists find, counted in students, with intervals.

Every week the top ``top_share`` of each school is flagged. A student counts once:

- **left**: their outcome within the horizon was leaving (on some week of the period);
- **found**: they were flagged in some week before they left;
- **flagged**: they were flagged in some week.

From these, per group: recall (found / left), false-positive rate (flagged among those
who stayed) and precision (left among those flagged). Groups of sex, nationality,
disability and poverty are compared with a reference group **within school level**:
the reference group's rate at each level is applied to the group's own students at that
level (indirect standardisation), so a difference between levels in how many students
leave is never read as unfairness. The level comparison itself is a separate table,
labelled as such. Each ratio has a bootstrap interval over students; a group is flagged
only when a whole interval lies outside ``[low, high]``, and a group with too few
students who left (or flagged) is "too few to judge".

The view that matters most here: the headline's found in time by group. On the same
home-visit plans as the headline (each school's capacity a week, leaving out whom it
visited in the last 30 days, ``training.evaluate.found_in_time``), among students who
left, the shares visited at least 4 and 8 weeks before leaving and the median lead, and
among those visited before leaving, how many had any intervention in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.config import FairnessConfig
from training.evaluate import FOUND_WEEKS, StudentResamples, flag_top, leads

METRICS = ("recall", "fpr", "precision")
ATTRIBUTES = ("sex", "nationality", "disability", "poverty")
# The group each attribute is compared with; the largest group where none is named.
REFERENCE = {"nationality": "Thai", "disability": "none", "poverty": "none"}
LEVELS = ("pre-primary/primary", "lower secondary", "upper secondary", "vocational")
# The columns of ``audit_groups``: each audited attribute, and the level of schooling.
GROUP_COLUMNS = [*ATTRIBUTES, "level"]
# What a flag could mean, by the measure and which way the group is off from the
# reference group at the same levels, in Thai and English (model card). A group's leavers
# found less often: why they could be missed, ``MISSED``.
MEANINGS = {
    ("recall", "higher"): (
        "การออกของกลุ่มอ้างอิงมีสัญญาณล่วงหน้าในข้อมูลของโรงเรียนน้อยกว่ากลุ่มนี้",
        "the reference group's leaving shows less warning in school records than this group's",
    ),
    ("fpr", "higher"): (
        "สัญญาณที่แบบจำลองใช้ (การขาดเรียน ผลการเรียน ความยากจน) พบบ่อยกว่าในกลุ่มนี้ "
        "ไม่ว่าเด็กจะออกหรือไม่ จึงใช้ที่ในรายชื่อมากกว่า",
        "the signals the model reads (absence, grades, poverty) are commoner in this group "
        "whether or not its children leave, so it takes more places on the lists",
    ),
    ("fpr", "lower"): (
        "สัญญาณที่แบบจำลองใช้พบน้อยกว่าในเด็กกลุ่มนี้ที่ยังเรียนอยู่",
        "the signals the model reads are rarer among this group's children who stay",
    ),
    ("precision", "higher"): (
        "เด็กกลุ่มนี้ที่อยู่ในรายชื่อออกบ่อยกว่า รายชื่อจึงอาจมีเด็กกลุ่มนี้น้อยเกินไป",
        "this group's flagged children leave more often, so the lists may hold too few of them",
    ),
    ("precision", "lower"): (
        "เด็กกลุ่มนี้ที่อยู่ในรายชื่อออกน้อยกว่า กลุ่มนี้จึงถูกจัดในรายชื่อง่ายกว่าที่การออกจริงสะท้อน",
        "this group's flagged children leave less often: it is flagged more readily than "
        "its leaving warrants",
    ),
}
# Why a group's leavers could be found less often: by group first, then by attribute.
MISSED = {
    "not surveyed": (
        "เมื่อไม่มีข้อมูลสำรวจครัวเรือน แบบจำลองจึงไม่เห็นสัญญาณความยากจนของครอบครัว",
        "without a household survey the model lacks the family's poverty signals",
    ),
    "nationality": (
        "การย้ายข้ามพรมแดนของครอบครัวแรงงานข้ามชาติมักไม่มีสัญญาณล่วงหน้าในข้อมูลของโรงเรียน",
        "moves across borders leave little warning in school records",
    ),
    "poverty": (
        "ครอบครัวยากจนอาจออกเพราะเหตุการณ์ฉับพลันทางเศรษฐกิจที่ยังไม่ปรากฏในข้อมูลของโรงเรียน",
        "poor families may leave after a sudden economic shock the school's records do not "
        "show yet",
    ),
    "disability": (
        "เด็กพิการอาจมีรูปแบบการมาเรียนที่ต่างออกไป ทำให้สัญญาณเดิมใช้ได้ไม่ดี",
        "disabled children may attend differently, so the usual signals fit them less well",
    ),
    "sex": (
        "เหตุผลของการออกต่างกันตามเพศ (เช่น ออกไปทำงาน หรือตั้งครรภ์) และมีสัญญาณต่างกัน",
        "reasons for leaving differ by sex (work, pregnancy) and show different signs",
    ),
}
METRIC_WORDS = {
    "recall": ("สัดส่วนผู้ที่ออกซึ่งถูกพบก่อนออก", "share of leavers found before they left"),
    "fpr": ("สัดส่วนผู้ที่ยังเรียนอยู่แต่ถูกจัดในรายชื่อ", "share of stayers flagged"),
    "precision": ("สัดส่วนผู้ที่ออกจริงในรายชื่อ", "share of flagged students who left"),
}


@dataclass(frozen=True)
class Audit:
    """The audit's three tables and its flags."""

    groups: pd.DataFrame  # attribute, group, counts, rates, level-standardised ratios
    levels: pd.DataFrame  # the level comparison: base rates differ, not judged
    found_in_time: pd.DataFrame  # among leavers: found in time, and helped, by group

    @property
    def flags(self) -> list[str]:
        flagged = self.groups[self.groups["status"] == "flag"]
        return [f"{r.attribute}={r.group} ({r.flagged_metrics})" for r in flagged.itertuples()]


def audit_groups(rows: pd.DataFrame) -> pd.DataFrame:
    """The audited attributes of each row, as readable group names."""
    level = rows["grade_level"].astype(str)
    band = np.select(
        [level.str[0].isin(["K", "P"]), level.isin(["M1", "M2", "M3"]), level.str[0] == "M"],
        list(LEVELS[:3]),
        LEVELS[3],
    )
    disability = rows["disability"].fillna("unknown")
    return pd.DataFrame(
        {
            "sex": rows["sex"].fillna("unknown"),
            "nationality": np.where(
                rows["nationality"].isna(),
                "unknown",
                np.where(rows["nationality"] == "TH", "Thai", "other"),
            ),
            "disability": np.where(
                disability == "none", "none", np.where(disability == "unknown", "unknown", "any")
            ),
            "poverty": rows["equity_status"]
            .fillna("not surveyed")
            .replace({"extremely_poor": "extremely poor"}),  # as tables say it
            "level": band,
        },
        index=rows.index,
    )


def students_table(
    rows: pd.DataFrame,
    scores: np.ndarray,
    config: FairnessConfig,
    interventions: pd.DataFrame | None = None,
    *,
    places: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per child (``person_id``: their rows at every school are one child): groups
    (as of their first week); left, found and flagged on the audit's lists (the top
    ``top_share`` of each school); and on the home-visit plans of ``places`` a week per
    school (``training.evaluate.visit_plans``; the headline's: each school's capacity; the
    audit's where not given) the weeks from the first visit to leaving and whether they
    had any intervention in between."""
    flagged = flag_top(scores, rows[["as_of", "school_id"]], config.top_share, rows=rows)
    groups = audit_groups(rows)
    event = pd.to_datetime(rows["event_date"]) if "event_date" in rows else pd.Series(pd.NaT)
    frame = pd.DataFrame(
        {
            "person_id": rows["person_id"].astype(str).to_numpy(),
            "as_of": rows["as_of"].to_numpy(),
            "label": rows["label"].to_numpy(),
            "flagged": flagged,
            "event_date": event.to_numpy(),
        }
    )
    frame = pd.concat([frame, groups.reset_index(drop=True)], axis=1)
    before = frame["flagged"] & frame["label"].astype(bool) & (frame["as_of"] < frame["event_date"])
    by = frame.assign(found=before).groupby("person_id", sort=True)
    students = by[GROUP_COLUMNS].first()
    students["left"] = by["label"].max().astype(bool)
    students["flagged"] = by["flagged"].any()
    students["found"] = by["found"].any()
    students["event_date"] = by["event_date"].max()
    if places is None:
        size = rows.groupby(["as_of", "school_id"])["school_id"].transform("size").to_numpy()
        places = np.maximum(1, np.ceil(config.top_share * size))
    lead = leads(rows, scores, places) if "event_date" in rows else pd.Series(dtype=float)
    return with_leads(students, lead, interventions).reset_index()


def with_leads(
    students: pd.DataFrame, lead: pd.Series, interventions: pd.DataFrame | None
) -> pd.DataFrame:
    """Students (by ``person_id``, with ``event_date``) with the weeks from the first plan
    that took them to leaving (``lead_weeks`` from ``leads``; 0: never taken), the day
    it took them (``first_found``) and whether they had any intervention in between
    (``helped``)."""
    students = students.assign(lead_weeks=lead.reindex(students.index).fillna(0.0))
    students["first_found"] = (
        students["event_date"] - pd.to_timedelta(students["lead_weeks"] * 7, unit="D")
    ).where(students["lead_weeks"] > 0)
    students["helped"] = _helped(students, interventions)
    return students


def _helped(students: pd.DataFrame, interventions: pd.DataFrame | None) -> pd.Series:
    """Found students with any intervention recorded between being found and leaving."""
    if interventions is None or interventions.empty:
        return pd.Series(False, index=students.index)
    found = students[students["first_found"].notna()]
    actions = interventions[["person_id", "date"]].merge(
        found[["first_found", "event_date"]], left_on="person_id", right_index=True
    )
    dates = pd.to_datetime(actions["date"])
    within = (dates >= actions["first_found"]) & (dates <= actions["event_date"])
    helped_ids = set(actions.loc[within, "person_id"])
    return pd.Series(students.index.isin(list(helped_ids)), index=students.index)


def fairness_audit(
    rows: pd.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    config: FairnessConfig,
    interventions: pd.DataFrame | None = None,
    *,
    places: np.ndarray | None = None,
) -> Audit:
    """The audit of one model's weekly lists over a period (rows are student-weeks); found
    in time by group on the lists of ``places`` (``students_table``)."""
    rows = rows.assign(label=labels)
    students = students_table(rows, scores, config, interventions, places=places)
    draws = StudentResamples.draw(students["person_id"].to_numpy(), config.bootstrap)
    # Student-level draws: every student is one row, so codes are 0..n-1.
    groups = pd.concat(
        [_attribute(students, attribute, draws, config) for attribute in ATTRIBUTES],
        ignore_index=True,
    )
    return Audit(
        _with_meanings(groups),
        _levels(students),
        found_in_time_by_group(students, draws, config.min_positives),
    )


def _indicators(students: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(numerator, denominator) per student for each metric."""
    left = students["left"].to_numpy(dtype=float)
    flagged = students["flagged"].to_numpy(dtype=float)
    found = students["found"].to_numpy(dtype=float)
    return {
        "recall": (found, left),
        "fpr": (flagged * (1 - left), 1 - left),
        "precision": (flagged * left, flagged),
    }


def _attribute(
    students: pd.DataFrame, attribute: str, draws: StudentResamples, config: FairnessConfig
) -> pd.DataFrame:
    values = students[attribute].to_numpy()
    names = pd.Series(values).value_counts()
    reference = REFERENCE.get(attribute)
    if reference not in names.index:
        reference = str(names.idxmax())
    level = students["level"].to_numpy()
    indicators = _indicators(students)
    records = []
    for group in names.index:
        mine = values == group
        record: dict[str, object] = {
            "attribute": attribute,
            "group": group,
            "students": int(mine.sum()),
            "left": int(students.loc[mine, "left"].sum()),
            "flagged": int(students.loc[mine, "flagged"].sum()),
            "found": int(students.loc[mine, "found"].sum()),
        }
        off = []
        for metric, (top, bottom) in indicators.items():
            rate = _ratio(top * mine, bottom * mine)
            record[metric] = rate
            if group == reference:
                continue
            ratio, samples = _standardised(
                top, bottom, mine, values == reference, level=level, draws=draws
            )
            low, high = _percentiles(samples)
            record |= {f"{metric}_ratio": ratio, f"{metric}_low": low, f"{metric}_high": high}
            if np.isfinite(low) and (high < config.low or low > config.high):
                off.append(metric)
        enough = record["left"] >= config.min_positives and record["flagged"] >= config.min_flagged  # type: ignore[operator]
        record["status"] = (
            "reference"
            if group == reference
            else "too few to judge"
            if not enough
            else "flag"
            if off
            else "ok"
        )
        record["flagged_metrics"] = ",".join(off) if record["status"] == "flag" else ""
        records.append(record)
    return pd.DataFrame(records)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> float:
    total = bottom.sum()
    return float(top.sum() / total) if total > 0 else float("nan")


def _standardised(
    top: np.ndarray,
    bottom: np.ndarray,
    group: np.ndarray,
    reference: np.ndarray,
    *,
    level: np.ndarray,
    draws: StudentResamples,
) -> tuple[float, np.ndarray]:
    """Observed over expected: the group's rate against the reference group's rate at each
    level applied to the group's own students there; with its value in every resample."""
    weights = np.vstack([np.ones(len(top)), draws.weights])  # row 0: the data itself
    observed = weights @ (top * group)
    expected = np.zeros(len(weights))
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in np.unique(level):
            at = level == name
            ref_rate = (weights @ (top * reference * at)) / (weights @ (bottom * reference * at))
            expected += np.nan_to_num(ref_rate) * (weights @ (bottom * group * at))
        ratio = observed / expected
    return float(ratio[0]), ratio[1:]


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if len(finite) < 10:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _levels(students: pd.DataFrame) -> pd.DataFrame:
    """Rates by school level: how many leave differs by level, so these differences are
    base rates to know, not judged as unfairness."""
    indicators = _indicators(students)
    records = []
    for level in [lv for lv in LEVELS if lv in set(students["level"])]:
        mine = (students["level"] == level).to_numpy()
        records.append(
            {
                "level": level,
                "students": int(mine.sum()),
                "left": int(students.loc[mine, "left"].sum()),
                "leave_rate": float(students.loc[mine, "left"].mean()),
                **{m: _ratio(top * mine, bottom * mine) for m, (top, bottom) in indicators.items()},
                "note": "base rates differ by level: reported, not judged",
            }
        )
    return pd.DataFrame(records)


def found_in_time_by_group(
    students: pd.DataFrame, draws: StudentResamples, min_positives: int
) -> pd.DataFrame:
    """Among students who left, by group: the shares flagged at least 4 and 8 weeks before
    leaving (``FOUND_WEEKS``, intervals over students), the median lead and, of those
    flagged before leaving, how many had any help in between; ``too_few`` where fewer
    than ``min_positives`` left (shown as counts, not judged as shares). A group none of
    whose students left has no row: nobody in it could be found or missed."""
    left = students["left"].to_numpy(dtype=float)
    lead = students["lead_weeks"].to_numpy(dtype=float)
    found = (lead > 0).astype(float)
    helped = students["helped"].to_numpy(dtype=float)
    records = []
    for attribute in ("nationality", "poverty", "disability", "sex"):
        values = students[attribute].to_numpy()
        for group in pd.Series(values).value_counts().index:
            mine = (values == group).astype(float)
            if not (left * mine).any():
                continue
            record: dict[str, object] = {
                "attribute": attribute,
                "group": group,
                "left": int((left * mine).sum()),
                "too_few": bool((left * mine).sum() < min_positives),
            }
            for weeks in FOUND_WEEKS:
                in_time = (lead >= weeks).astype(float) * left
                low, high = _percentiles(draws.ratio(in_time * mine, left * mine))
                record |= {
                    f"found_{weeks}w": int((in_time * mine).sum()),
                    f"share_found_{weeks}w": _ratio(in_time * mine, left * mine),
                    f"low_{weeks}w": low,
                    f"high_{weeks}w": high,
                }
            theirs = lead[(left * mine) > 0]
            record |= {
                "median_lead_weeks": float(np.median(theirs)) if len(theirs) else float("nan"),
                "found": int((found * left * mine).sum()),
                "helped": int((helped * found * left * mine).sum()),
                "share_helped": _ratio(helped * found * left * mine, found * left * mine),
            }
            records.append(record)
    return pd.DataFrame(records)


def flags(audit: Audit) -> list[str]:
    """Flagged groups as ``attribute=group (metrics)`` strings."""
    return audit.flags


def flag_meaning(row: pd.Series, language: str) -> str:
    """What a flag may mean, by its measures and which way the group is off ("" when
    nothing is known to say)."""
    index = 0 if language == "th" else 1
    meanings: list[str] = []
    for metric in str(row["flagged_metrics"]).split(","):
        way = "higher" if row[f"{metric}_ratio"] > 1 else "lower"
        if (metric, way) == ("recall", "lower"):
            meaning = MISSED.get(str(row["group"]), MISSED.get(str(row["attribute"])))
        else:
            meaning = MEANINGS[(metric, way)]
        if meaning is not None and meaning[index] not in meanings:
            meanings.append(meaning[index])
    if not meanings:
        return ""
    if language == "th":
        return f"อาจหมายความว่า{' และ '.join(meanings)}"
    return f"It could mean that {'; and '.join(meanings)}."


def _with_meanings(groups: pd.DataFrame) -> pd.DataFrame:
    """The audit's groups with what each flag may mean, in Thai and English ("" for a
    group not flagged): logged with the run for the model page."""
    flagged = groups["status"] == "flag"
    return groups.assign(
        **{
            f"meaning_{language}": [
                flag_meaning(row, language) if is_flag else ""
                for is_flag, (_, row) in zip(flagged, groups.iterrows(), strict=True)
            ]
            for language in ("th", "en")
        }
    )


def explain_flag(row: pd.Series, language: str) -> str:
    """A flag in plain words: what was measured, on how many students, which way the
    group is off and what that may mean."""
    index = 0 if language == "th" else 1
    parts = []
    for metric in str(row["flagged_metrics"]).split(","):
        words = METRIC_WORDS[metric][index]
        ratio, low, high = row[f"{metric}_ratio"], row[f"{metric}_low"], row[f"{metric}_high"]
        if language == "th":
            parts.append(
                f"{words}: กลุ่ม {row['group']} เท่ากับ {ratio:.2f} เท่าของกลุ่มอ้างอิงในระดับชั้นเดียวกัน "
                f"(ช่วง {low:.2f}–{high:.2f})"
            )
        else:
            parts.append(
                f"{words}: {row['group']} is {ratio:.2f}× the reference group at the same "
                f"levels (interval {low:.2f}–{high:.2f})"
            )
    meaning = flag_meaning(row, language)
    if language == "th":
        return (
            f"{row['attribute']}={row['group']} ({row['students']:,} คน, ออก {row['left']:,} คน): "
            + "; ".join(parts)
            + (f" {meaning}" if meaning else "")
        )
    return (
        f"{row['attribute']}={row['group']} ({row['students']:,} students, "
        f"{row['left']:,} who left): " + "; ".join(parts) + (f". {meaning}" if meaning else ".")
    )
