"""How the folds would choose the model's shape by other criteria, and with additive
shapes (``python -m benchmarks.shape_choice``; docs/model.md, "What was tried against the
plain GBM").

On each real set of ``make bench-real`` (converted and ingested again), every shape (the
configured ones, and trees of depth 1 and 2, additive in the features or their pairs) is
fitted on every rolling-origin fold as the search fits it, with up to ``MAX_TREES``
trees, and its validation curve is read every ``CURVE_STEP`` trees by three criteria:
average precision over all students (the search's), and average precision and ROC-AUC
within each school (the lists flag each school's own capacity). The shape each criterion
puts first is fitted, with its fewest trees near its best, on the rows observed before
the test period and judged at each checkpoint beside the plain GBM. Nothing here is
used by the tests or by the product.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks.real_data import (
    DATA,
    RealData,
    checkpoints,
    config_of,
    load,
    plain_scores,
    split_rows,
    within_school,
    within_school_auc,
)
from features.sources import Sources
from training.config import Shape
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import (
    CURVE_STEP,
    Criterion,
    average_precision,
    fit_booster,
    lightgbm_params,
    raw_scores,
    validation_curves,
)
from training.search import fewest_near_best, thinned
from training.split import plan_from_config
from training.train import model_inputs

MAX_TREES = 1000  # trees of depth 1 need many more than the search's 500
ADDITIVE = (
    Shape(name="depth 1", num_leaves=2, max_depth=1, min_leaf_share=0.004),
    Shape(name="depth 2", num_leaves=3, max_depth=2, min_leaf_share=0.004),
)
CRITERIA: dict[str, Criterion] = {
    "average precision, all students": average_precision,
    "average precision within schools": lambda rows, score: within_school(
        rows, score, average_precision_score
    ),
    "ROC-AUC within schools": lambda rows, score: within_school(rows, score, roc_auc_score),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", choices=[*DATA, "both"], default="both")
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-shape-choice"))
    args = parser.parse_args()
    for key in list(DATA) if args.data == "both" else [args.data]:
        compare(DATA[key], args.work_dir / key)


def compare(data: RealData, work: Path) -> None:
    """Each criterion's curves by shape on the folds, then its choice on the test."""
    print(f"\n===== {data.name} ({data.source}) =====")
    engine = load(data, work)
    config = config_of(data)
    matrix = build_training_matrix(
        Sources.from_database(engine), LabelRules(config.labels.horizon_days)
    )
    plan = plan_from_config(matrix, config)
    features = model_inputs(config)
    shapes = [*ADDITIVE, *config.model.shapes]
    # curves[criterion][shape]: one curve per fold, a value every CURVE_STEP trees.
    curves: dict[str, dict[str, list[np.ndarray]]] = {c: {} for c in CRITERIA}
    for fold in plan.folds:
        train = thinned(matrix[fold.train], config.model.fold_week_stride)
        valid = matrix[fold.valid].reset_index(drop=True)
        for shape in shapes:
            params = lightgbm_params(features, config.model, shape, len(train))
            booster = fit_booster(train, features, params, MAX_TREES)
            for name, curve in validation_curves(booster, valid, features, CRITERIA).items():
                curves[name].setdefault(shape.name, []).append(curve)
        print(f"fold {fold.describe()}: every shape fitted", flush=True)
    choices: dict[str, tuple[str, int]] = {}
    for name, by_shape in curves.items():
        print(f"\n{name} on the folds (mean at the best; each fold's value there):")
        means = {kind: np.mean(folds, axis=0) for kind, folds in by_shape.items()}
        for kind, mean in means.items():
            best = int(mean.argmax())
            each = ", ".join(f"{fold[best]:.4f}" for fold in by_shape[kind])
            print(f"  {kind}: {mean[best]:.4f} at {(best + 1) * CURVE_STEP} trees ({each})")
        first = max(means, key=lambda kind: float(means[kind].max()))
        trees = fewest_near_best(means[first])
        print(f"  first: {first}, {trees} trees (the fewest near its best)")
        choices[name] = (first, trees)
    train_rows, test_rows = split_rows(matrix, plan, data)
    fitted = train_rows.assign(label=train_rows["label"].astype(int))
    scores = {"plain GBM": plain_scores(train_rows, test_rows, features)}
    for first, trees in dict.fromkeys(choices.values()):
        shape = next(s for s in shapes if s.name == first)
        params = lightgbm_params(features, config.model, shape, len(fitted))
        booster = fit_booster(fitted, features, params, trees)
        scores[f"{first}, {trees} trees"] = raw_scores(booster, test_rows, features)
    table = pd.DataFrame(
        {
            label: {
                name: within_school_auc(test_rows[at].reset_index(drop=True), score[at])
                for name, score in scores.items()
            }
            for label, at in checkpoints(test_rows, data)
        }
    ).T
    print("\nWithin-school ROC-AUC at each checkpoint of the test period (out of sample)")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
