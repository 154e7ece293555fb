"""Realistic defects in the generated files, so that ingest's rejection path runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synth.config import SynthResult


def inject_defects(
    result: SynthResult,
    rate: float,
    rng: np.random.Generator,
    spared: Sequence[str] = (),
) -> None:
    """Realistic defects: typos, impossible values, unknown ids, bad optional values.

    A defect in a required or key column makes its row invalid, so ingest must reject
    exactly these rows (``result.defects``); one in an optional column must cost only the
    value, blanked with a warning (``result.blanked``). Missing optional values are added
    too; those are not defects.
    """
    if rate <= 0:
        return
    f = result.frames

    def pick(frame: pd.DataFrame, share: float = 1.0) -> np.ndarray:
        rows = frame.index.to_numpy()
        if spared and "school_id" in frame:  # the schools written as they keep them
            rows = rows[~frame["school_id"].isin(spared).to_numpy()]
        count = rng.binomial(len(rows), rate * share)
        return rng.choice(rows, count, replace=False) if count else np.zeros(0, int)

    # Missing optional values: not defects, the pipeline must live with them.
    household = f["household"]
    household.loc[pick(household, 20), "monthly_income"] = np.nan
    household.loc[pick(household, 10), "distance_km"] = np.nan
    defects_by_frame = {
        "attendance": (("status", "presnt"), ("date", "31/02/2567"), ("student_id", None)),
        "grades": (("grade", "5"),),
        "assessments": (("score", "-3"),),
        "household": (("monthly_income", "ไม่ทราบ"),),
        "screenings": (("sdq_total", "45"),),
        "enrollments": (("grade_level", "ม.7"),),
    }
    optional = {"assessments.score", "household.monthly_income", "screenings.sdq_total"}
    for frame_name, defects in defects_by_frame.items():
        frame = f[frame_name]
        # Distinct rows per defect, so each bad row carries exactly one defect.
        rows = pick(frame)
        for (column, bad_value), part in zip(
            defects, np.array_split(rows, len(defects)), strict=True
        ):
            if frame[column].dtype != object:
                frame[column] = frame[column].astype(object)
            # Unknown students: ids nobody enrolled, one each so they do not collide.
            frame.loc[part, column] = (
                bad_value if bad_value is not None else [f"XX{i:06d}" for i in range(len(part))]
            )
            key = f"{frame_name}.{column}"
            (result.blanked if key in optional else result.defects)[key] = len(part)
    students = f["students"]
    # Only a 13-digit Thai ID has a check digit to break (G codes and foreign ones do not).
    thai = students["national_id"].astype("string").str.fullmatch(r"\d{13}").fillna(False)
    thai &= ~students["school_id"].isin(spared)
    filled = _filled_down(students, f["enrollments"], thai)
    thai &= ~students.index.isin(filled)
    if filled:
        result.not_linked["filled down"] = len(filled)
    given = _given_at_another_school(students, f["enrollments"], thai)
    thai &= ~students.index.isin(given)
    if given:
        result.not_linked["at two schools"] = len(given)
    with_id = students.index[thai.to_numpy(dtype=bool)].to_numpy()
    broken = rng.choice(with_id, min(len(with_id), max(1, int(len(with_id) * rate))), replace=False)
    students.loc[broken, "national_id"] = [
        s[:-1] + str((int(s[-1]) + 1) % 10) for s in students.loc[broken, "national_id"]
    ]
    result.blanked["students.national_id"] = len(broken)


def _given_at_another_school(
    students: pd.DataFrame, enrollments: pd.DataFrame, thai: pd.Series
) -> list[int]:
    """A child of a second school given the ID of a child of the first (a brother's, a
    typing slip that passes the check digit): both enrolled in the first term, at school
    on the same days. Ingest keeps both apart, linked by it to nobody
    (``schooldata.identity.shared_ids``). Children whose ID already links them across
    schools (a move, a transition) are left alone.

    Returns the two students' rows (none when fewer than two schools have one)."""
    first = enrollments[
        (enrollments["academic_year"] == enrollments["academic_year"].min())
        & (enrollments["term"] == 1)
    ]
    alone = ~students["national_id"].duplicated(keep=False).to_numpy()
    rows = students.reset_index().merge(first[["school_id", "student_id"]].drop_duplicates())
    rows = rows[(thai.to_numpy(dtype=bool) & alone)[rows["index"].to_numpy()]]
    pair = rows.sort_values("index").groupby("school_id", sort=True)["index"].first()
    if len(pair) < 2:
        return []
    one, two = int(pair.iloc[0]), int(pair.iloc[1])
    students.loc[[two], "national_id"] = students.loc[[one], "national_id"].to_numpy()
    return [one, two]


def _filled_down(students: pd.DataFrame, enrollments: pd.DataFrame, thai: pd.Series) -> list[int]:
    """One classroom's ID column filled down in Excel: the first room of the first term
    with three students with Thai IDs gives the next two the first one's ID. Ingest keeps
    the three and links none of them by it (``schooldata.identity.shared_ids``).

    Returns the three students' rows (none when no room has three)."""
    first = enrollments[
        (enrollments["academic_year"] == enrollments["academic_year"].min())
        & (enrollments["term"] == 1)
    ]
    rows = students.reset_index().merge(first, on=["school_id", "student_id"])
    rows = rows[thai.to_numpy(dtype=bool)[rows["index"].to_numpy()]]
    for _, room in rows.groupby(["school_id", "classroom"], sort=True):
        if len(room) >= 3:
            three = room["index"].to_numpy()[:3]
            students.loc[three[1:], "national_id"] = students.loc[three[0], "national_id"]
            return [int(row) for row in three]
    return []
