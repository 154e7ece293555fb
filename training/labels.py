"""Dropout labels (docs/model.md, "Features, labels"): which children left within the
horizon after each as-of date.

Events belong to the child (``person_id``), whose students at several schools are one:
- an exit of type ``dropout``, dated at the exit, unless the child is enrolled at
  another school in that term or the next (they moved: a transfer, with or without a
  record; enrolled again at the same school, they came back, and the dropout stands);
- unexplained non-continuation: enrolled in a term, enrolled nowhere in the next term,
  with no transfer, graduation or death on record, dated at the next snapshot (this is
  how the DMC finds dropouts);
- a failed transition: graduated from P6 (or M3, configurable) and enrolled nowhere in
  the next academic year, dated at that year's first snapshot.
What the missing-children worklist settled (``schooldata.missing.settled_findings``) has
the last word on a term the child was not at school: found enrolled at another school is
a move, never a dropout; not found, or found and referred to an agency, is a confirmed
dropout whatever else was recorded.
Transfers, graduations and deaths are never positives. A label is mature only when its
whole window lies inside the observed data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from features.asof import as_ns, next_after
from features.sources import Sources
from schooldata.db import reading
from schooldata.missing import settled_findings

EXPLAINED_EXITS = ("transfer", "graduated", "deceased")


@dataclass(frozen=True)
class LabelRules:
    horizon_days: int = 180
    m3_transition_counts: bool = True
    observed_until: pd.Timestamp | None = None  # default: the end of the last enrolled term
    # (person_id, academic_year, term, "transfer" | "dropout"): what staff looking for a
    # child who was not at school that term found (``schooldata.missing``).
    findings: tuple[tuple[str, int, int, str], ...] = ()


def label_rules(
    engine: sa.Engine, horizon_days: int, m3_transition_counts: bool = True
) -> LabelRules:
    """The label rules of a horizon, with what the worklist settled in this database."""
    with reading(engine) as connection:
        findings = settled_findings(connection)
    return LabelRules(horizon_days, m3_transition_counts, findings=findings)


def dropout_events(sources: Sources, rules: LabelRules) -> pd.DataFrame:
    """Every dropout event in the data: person_id, event_date, kind."""
    exits = sources.exits
    recorded = exits[(exits["exit_type"] == "dropout").to_numpy()]
    recorded = recorded[~_moved_after(recorded, sources.enrollments)]
    events = [
        pd.DataFrame(
            {
                "person_id": recorded["person_id"].astype(str).to_numpy(),
                "event_date": recorded["exit_date"].to_numpy(),
                "kind": "dropout_exit",
            }
        )
    ]
    events.append(_non_continuations(sources, rules))
    frame = pd.concat(events, ignore_index=True)
    frame["event_date"] = as_ns(frame["event_date"])
    frame = frame.drop_duplicates(["person_id", "event_date"])
    return frame.sort_values(["person_id", "event_date"]).reset_index(drop=True)


def _moved_after(dropouts: pd.DataFrame, enrollments: pd.DataFrame) -> np.ndarray:
    """Which dropout exits are moves: the child is enrolled at another school in the term
    the exit ended (the student's latest term begun by then) or the next one."""
    if dropouts.empty:
        return np.zeros(0, dtype=bool)
    ordinal = enrollments["academic_year"].astype(int) * 2 + enrollments["term"].astype(int)
    spells = pd.DataFrame(
        {
            "school_id": enrollments["school_id"].astype(str).to_numpy(),
            "student_id": enrollments["student_id"].astype(str).to_numpy(),
            "person_id": enrollments["person_id"].astype(str).to_numpy(),
            "term_start": as_ns(enrollments["term_start"]),
            "ordinal": ordinal.to_numpy(),
        }
    ).sort_values("term_start")
    exits = pd.DataFrame(
        {
            "school_id": dropouts["school_id"].astype(str).to_numpy(),
            "student_id": dropouts["student_id"].astype(str).to_numpy(),
            "person_id": dropouts["person_id"].astype(str).to_numpy(),
            "exit_date": as_ns(dropouts["exit_date"]),
            "row": np.arange(len(dropouts)),
        }
    )
    ended = pd.merge_asof(
        exits.sort_values("exit_date"),
        spells,
        left_on="exit_date",
        right_on="term_start",
        by=["school_id", "student_id"],
        direction="backward",
    )
    elsewhere = ended[["row", "person_id_x", "school_id", "ordinal"]].merge(
        spells[["person_id", "school_id", "ordinal"]].rename(
            columns={"school_id": "other_school", "ordinal": "other_ordinal"}
        ),
        left_on="person_id_x",
        right_on="person_id",
    )
    moved = elsewhere[
        (elsewhere["other_school"] != elsewhere["school_id"])
        & (elsewhere["other_ordinal"] - elsewhere["ordinal"]).isin([0, 1])
    ]
    result = np.zeros(len(dropouts), dtype=bool)
    result[moved["row"].to_numpy(dtype=int)] = True
    return result


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
    enrolled = sources.enrollments.assign(person_id=sources.enrollments["person_id"].astype(str))
    terms = _term_sequence(enrolled)
    columns = ["person_id", "academic_year", "term", "grade_level", "term_start", "term_end"]
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
    # Enrolled anywhere in the next term: the child continued (at any school).
    present = set(
        zip(enrolled["person_id"], enrolled["academic_year"], enrolled["term"], strict=True)
    )
    continued = np.array(
        [
            (s, int(y), int(t)) in present
            for s, y, t in zip(
                spells["person_id"], spells["next_year"], spells["next_term"], strict=True
            )
        ],
        dtype=bool,
    )
    gone = spells[~continued]
    exits = sources.exits[["person_id", "exit_date", "exit_type"]]
    exits = exits.assign(person_id=exits["person_id"].astype(str)).merge(
        gone[["person_id", "term_start", "next_snapshot"]], on="person_id"
    )
    in_window = (exits["exit_date"] >= exits["term_start"]) & (
        exits["exit_date"] <= exits["next_snapshot"]
    )
    exits = exits[in_window]
    key = ["person_id", "term_start"]
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
    found = _findings(gone, rules.findings)
    confirmed = (found == "dropout") & ~gone["dropout_exit"]
    counted = (unexplained | failed_transition | confirmed) & (found != "transfer")
    events = gone[counted]
    kind = np.select(
        [confirmed[counted], failed_transition[counted]],
        ["confirmed_dropout", "failed_transition"],
        "non_continuation",
    )
    return pd.DataFrame(
        {
            "person_id": events["person_id"].to_numpy(),
            "event_date": events["next_snapshot"].to_numpy(),
            "kind": kind,
        }
    )


def _findings(gone: pd.DataFrame, findings: tuple[tuple[str, int, int, str], ...]) -> pd.Series:
    """What the worklist found of each child not at school in the next term (or "")."""
    if not findings:
        return pd.Series("", index=gone.index)
    found = {(person, year, term): outcome for person, year, term, outcome in findings}
    return pd.Series(
        [
            found.get((person, int(year), int(term)), "")
            for person, year, term in zip(
                gone["person_id"], gone["next_year"], gone["next_term"], strict=True
            )
        ],
        index=gone.index,
        dtype=object,
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
    child = population["person_id"].astype(str)
    next_event = next_after(
        events.rename(columns={"person_id": "student_id"}), "event_date", child, population["as_of"]
    )
    as_of = pd.Series(as_ns(population["as_of"]), index=population.index)
    positive = next_event.notna() & (next_event <= as_of + horizon)
    kinds = events.set_index(["person_id", "event_date"])["kind"]
    event_kind = pd.Series(
        kinds.reindex(pd.MultiIndex.from_arrays([child, next_event])).to_numpy(),
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


def unlinked_labels(sources: Sources, population: pd.DataFrame, rules: LabelRules) -> np.ndarray:
    """The labels as they would be with every school's student a child of their own (no
    linking across schools): how the data would read without the person key."""
    alone = replace(sources, enrollments=_alone(sources.enrollments), exits=_alone(sources.exits))
    return label(alone, _alone(population), rules)["label"].to_numpy()


@dataclass(frozen=True)
class LinkingEffect:
    """How many labels linking children across schools changed."""

    rows: int  # labelled (student, date) rows
    dropout_to_stayed: int  # rows a dropout when each school's student stood alone, not now
    stayed_to_dropout: int  # rows not a dropout then, a dropout now
    children: int  # children with a changed row

    @classmethod
    def of(cls, matrix: pd.DataFrame) -> LinkingEffect:
        """From a training matrix's ``label`` and ``label_unlinked``."""
        linked = matrix["label"].to_numpy()
        unlinked = matrix["label_unlinked"].to_numpy()
        changed = linked != unlinked
        return cls(
            rows=len(matrix),
            dropout_to_stayed=int(((unlinked == 1) & (linked == 0)).sum()),
            stayed_to_dropout=int(((unlinked == 0) & (linked == 1)).sum()),
            children=int(matrix.loc[changed, "person_id"].nunique()),
        )

    def __str__(self) -> str:
        changed = self.dropout_to_stayed + self.stayed_to_dropout
        return (
            f"linking children across schools changed {changed:,} of {self.rows:,} labels "
            f"({self.children:,} children): {self.dropout_to_stayed:,} rows counted as "
            f"leaving by a school whose child went on at another school are not dropouts, "
            f"{self.stayed_to_dropout:,} rows are dropouts only when the child is followed "
            "across schools"
        )


def _alone(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame whose every school's student is a child of their own."""
    key = frame["school_id"].astype(str) + "\x1f" + frame["student_id"].astype(str)
    return frame.assign(person_id=key.to_numpy())
