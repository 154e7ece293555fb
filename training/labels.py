"""Dropout labels (SPEC section 3): who left within the horizon after each as-of date.

A dropout event is one of:
- an exit of type ``dropout``, dated at the exit;
- unexplained non-continuation: enrolled in a term, absent from the next term's
  enrolment with no transfer, graduation or death on record, dated at the next
  snapshot (this is how the DMC finds dropouts);
- a failed transition: graduated from P6 (or M3, configurable) and enrolled nowhere in
  the next academic year, dated at that year's first snapshot.
Transfers, graduations and deaths are never positives. A label is mature only when its
whole window lies inside the observed data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.asof import as_ns, next_after
from features.sources import Sources

EXPLAINED_EXITS = ("transfer", "graduated", "deceased")


@dataclass(frozen=True)
class LabelRules:
    horizon_days: int = 180
    m3_transition_counts: bool = True
    observed_until: pd.Timestamp | None = None  # default: the end of the last enrolled term


def dropout_events(sources: Sources, rules: LabelRules) -> pd.DataFrame:
    """Every dropout event in the data: student_id, event_date, kind."""
    exits = sources.exits
    recorded = exits[exits["exit_type"] == "dropout"][["student_id", "exit_date"]]
    events = [recorded.rename(columns={"exit_date": "event_date"}).assign(kind="dropout_exit")]
    events.append(_non_continuations(sources, rules))
    frame = pd.concat(events, ignore_index=True)
    frame["event_date"] = as_ns(frame["event_date"])
    return frame.sort_values(["student_id", "event_date"]).reset_index(drop=True)


def _term_sequence(enrollments: pd.DataFrame) -> pd.DataFrame:
    """Every (academic_year, term) in the data, with the next one and its snapshot date."""
    terms = (
        enrollments.groupby(["academic_year", "term"], as_index=False)
        .agg(
            term_start=("term_start", "min"),
            term_end=("term_end", "max"),
            snapshot=("snapshot_date", "median"),
        )
        .sort_values(["academic_year", "term"])
        .reset_index(drop=True)
    )
    terms["snapshot"] = terms["snapshot"].fillna(terms["term_start"])
    terms["next_year"] = terms["academic_year"].shift(-1)
    terms["next_term"] = terms["term"].shift(-1)
    terms["next_snapshot"] = terms["snapshot"].shift(-1)
    return terms


def _non_continuations(sources: Sources, rules: LabelRules) -> pd.DataFrame:
    enrolled = sources.enrollments
    terms = _term_sequence(enrolled)
    columns = ["student_id", "academic_year", "term", "grade_level", "term_start", "term_end"]
    spells = enrolled[columns].merge(
        terms[["academic_year", "term", "next_year", "next_term", "next_snapshot"]],
        on=["academic_year", "term"],
    )
    # The last term in the data has no next enrolment to look at.
    spells = spells.dropna(subset=["next_year"])
    # Leaving is only known once the student's own term is over: where terms overlap (a
    # college's long presentation still running at the next term's count), the count
    # says nothing yet, and an exit up to the term's end still explains the absence.
    spells["next_snapshot"] = np.maximum(
        as_ns(spells["next_snapshot"]), as_ns(spells["term_end"].fillna(spells["next_snapshot"]))
    )
    present = set(
        zip(enrolled["student_id"], enrolled["academic_year"], enrolled["term"], strict=True)
    )
    continued = np.array(
        [
            (s, int(y), int(t)) in present
            for s, y, t in zip(
                spells["student_id"], spells["next_year"], spells["next_term"], strict=True
            )
        ],
        dtype=bool,
    )
    gone = spells[~continued]
    exits = sources.exits.merge(
        gone[["student_id", "term_start", "next_snapshot"]], on="student_id"
    )
    in_window = (exits["exit_date"] >= exits["term_start"]) & (
        exits["exit_date"] <= exits["next_snapshot"]
    )
    exits = exits[in_window]
    key = ["student_id", "term_start"]
    explained_keys = exits[exits["exit_type"].isin(EXPLAINED_EXITS)][key]
    dropout_keys = exits[exits["exit_type"] == "dropout"][key]
    graduated_keys = exits[exits["exit_type"] == "graduated"][key]
    gone = gone.assign(
        explained=_has(gone, explained_keys, key),
        dropout_exit=_has(gone, dropout_keys, key),
        graduated=_has(gone, graduated_keys, key),
    )
    transition_levels = ["P6", "M3"] if rules.m3_transition_counts else ["P6"]
    # Graduating P6/M3 is a transition: the child must enrol somewhere the next year.
    failed_transition = (
        gone["graduated"] & gone["grade_level"].isin(transition_levels) & (gone["next_term"] == 1)
    )
    unexplained = ~gone["explained"] & ~gone["dropout_exit"]
    events = gone[unexplained | failed_transition]
    kind = np.where(
        failed_transition[unexplained | failed_transition], "failed_transition", "non_continuation"
    )
    return pd.DataFrame(
        {
            "student_id": events["student_id"].to_numpy(),
            "event_date": events["next_snapshot"].to_numpy(),
            "kind": kind,
        }
    )


def _has(frame: pd.DataFrame, keys: pd.DataFrame, columns: list[str]) -> np.ndarray:
    index = pd.MultiIndex.from_frame(frame[columns])
    return np.asarray(index.isin(pd.MultiIndex.from_frame(keys[columns])))


def observed_until(sources: Sources, rules: LabelRules) -> pd.Timestamp:
    """The last date the data fully observes: by default the end of the last enrolled term."""
    if rules.observed_until is not None:
        return pd.Timestamp(rules.observed_until)
    return pd.Timestamp(sources.enrollments["term_end"].max())


def label(sources: Sources, population: pd.DataFrame, rules: LabelRules) -> pd.DataFrame:
    """Label each (student, as-of) row.

    Returns:
        A frame aligned with ``population``: label (0/1), event_date, event_kind and
        mature (the horizon window ends on or before the observed data's end).
    """
    events = dropout_events(sources, rules)
    horizon = pd.Timedelta(days=rules.horizon_days)
    next_event = next_after(events, "event_date", population["student_id"], population["as_of"])
    as_of = pd.Series(as_ns(population["as_of"]), index=population.index)
    positive = next_event.notna() & (next_event <= as_of + horizon)
    kinds = events.drop_duplicates(["student_id", "event_date"]).set_index(
        ["student_id", "event_date"]
    )["kind"]
    event_kind = pd.Series(
        kinds.reindex(pd.MultiIndex.from_arrays([population["student_id"], next_event])).to_numpy(),
        index=population.index,
    ).where(positive)
    return pd.DataFrame(
        {
            "label": positive.astype(int),
            "event_date": next_event.where(positive),
            "event_kind": event_kind,
            "mature": (as_of + horizon) <= observed_until(sources, rules),
        },
        index=population.index,
    )
