"""Training partitioned by school: the matrix per partition, LightGBM on Dask workers.

``lightgbm.dask`` has known problems this module works around (LightGBM's issue tracker):

- No early stopping in the Dask interface (issues 3712, 4189, 6351: it hangs or is
  refused). We train the configured number of rounds, then replay early stopping on the
  validation period here: the average precision after every tree, stopping at the first
  point with no gain for ``early_stopping_rounds`` trees, exactly as the callback would,
  and keep the trees up to the best one.
- A worker that receives no data, or a partition with one class only, breaks training
  (issues 3882, 4942). Rows are shuffled with a fixed seed, cut into one chunk per
  worker and each chunk is placed on its worker (which also makes the fit repeatable);
  every chunk is checked to hold both classes before fitting.
- Ports: each worker must bind a port for LightGBM's network; fixed ports collide when
  several fits run at once or a port is taken (issues 3753, 5025). We let LightGBM pick
  free ports on each worker and hold a cluster-wide lock so one fit runs at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from core.cluster import run_tasks
from features.partitions import Partition, PartitionError, global_school_counts
from training.config import ModelConfig
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import FittedModel, calibrate, lightgbm_params, raw_scores

FIT_LOCK = "ews-lightgbm-dask-fit"


def partitioned_training_matrix(
    partitions: Sequence[Partition], rules: LabelRules, client: Any = None
) -> pd.DataFrame:
    """The training matrix built partition by partition (equal to the whole build)."""
    counts = global_school_counts(partitions, client)
    parts = [
        p for p in run_tasks(_matrix_of, partitions, client, rules=rules, counts=counts) if len(p)
    ]
    if not parts:
        raise PartitionError("no partition has any student enrolled on a weekly as-of date")
    matrix = pd.concat(parts, ignore_index=True)
    return matrix.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )


def _matrix_of(partition: Partition, rules: LabelRules, counts: pd.DataFrame) -> pd.DataFrame:
    return build_training_matrix(partition.sources(counts), rules)


def fit_model_on_dask(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    config: ModelConfig,
    client: Any,
) -> FittedModel:
    """Train with ``lightgbm.dask`` on the client's workers; stop early and calibrate here."""
    import dask.dataframe as dd
    from distributed import Lock

    # One chunk of shuffled rows per worker, each placed on its own worker: which rows a
    # worker holds decides its bins and bagging, so placement by the scheduler would
    # make every fit a different model.
    workers = sorted(client.scheduler_info()["workers"])
    shuffled = train.sample(frac=1.0, random_state=config.seed).reset_index(drop=True)
    chunks = np.array_split(np.arange(len(shuffled)), len(workers))
    x_parts, y_parts = [], []
    for worker, rows in zip(workers, chunks, strict=True):
        part = shuffled.iloc[rows]
        if part["label"].nunique() < 2:
            raise ValueError(
                "a worker's share of the training rows holds one class only; "
                "train on more rows or fewer workers"
            )
        x_parts.append(client.scatter(part[features].astype(float), workers=[worker]))
        y_parts.append(client.scatter(part["label"].astype(int), workers=[worker]))
    x = dd.from_delayed(x_parts, meta=shuffled[features].astype(float).iloc[:0])
    y = dd.from_delayed(y_parts, meta=shuffled["label"].astype(int).iloc[:0])

    params: dict[str, Any] = dict(lightgbm_params(features, config))
    for single_machine_only in ("metric", "num_threads"):
        params.pop(single_machine_only)
    with Lock(FIT_LOCK):  # on the current client's scheduler
        model = lgb.DaskLGBMClassifier(client=client, n_estimators=config.num_boost_round, **params)
        model.fit(x, y)
    trained = model.to_local().booster_

    best = replay_early_stopping(
        trained, valid[features].to_numpy(dtype=float), valid["label"].to_numpy(), config
    )
    booster = lgb.Booster(model_str=trained.model_to_string(num_iteration=best))
    raw = raw_scores(booster, valid, features)
    return FittedModel(booster, calibrate(raw, valid["label"].to_numpy()), best)


def replay_early_stopping(
    booster: lgb.Booster, x: np.ndarray, y: np.ndarray, config: ModelConfig
) -> int:
    """The iteration early stopping on validation average precision would have kept."""
    raw = np.zeros(len(x))
    best, best_score = 0, -np.inf
    for iteration in range(booster.num_trees()):
        raw += booster.predict(x, start_iteration=iteration, num_iteration=1, raw_score=True)
        score = average_precision_score(y, raw)
        if score > best_score:
            best, best_score = iteration + 1, score
        elif iteration + 1 - best >= config.early_stopping_rounds:
            break
    return best
