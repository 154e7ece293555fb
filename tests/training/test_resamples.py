"""Bootstrap resamples of students: a student's rows are always drawn together."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from training.evaluate import StudentResamples, rank_auc


def test_a_resample_holds_each_drawn_students_rows_as_many_times_as_drawn() -> None:
    rng = np.random.default_rng(1)
    students = rng.choice([f"s{i}" for i in range(300)], 2000)
    draws = StudentResamples.draw(students, 30, seed=3)
    seen: list[np.ndarray] = []

    draws.statistic(lambda rows: seen.append(rows.copy()) or 0.0)

    assert len(seen) == 30
    for weights, rows in zip(draws.weights, seen, strict=True):
        # Drawn student by student in number order, each student's rows in their order.
        rows_of = [np.flatnonzero(draws.codes == s) for s in range(len(weights))]
        expected = [rows_of[s] for s in range(len(weights)) for _ in range(int(weights[s]))]
        np.testing.assert_array_equal(rows, np.concatenate(expected))


def test_the_rank_auc_equals_scikit_learns_with_ties_and_is_nan_for_one_class() -> None:
    rng = np.random.default_rng(2)
    labels = rng.random(5000) < 0.1
    score = np.round(rng.random(5000) + labels * 0.3, 2)  # many ties
    assert abs(rank_auc(labels, score) - roc_auc_score(labels, score)) < 1e-12
    assert np.isnan(rank_auc(np.zeros(10), np.arange(10.0)))
