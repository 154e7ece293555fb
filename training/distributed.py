"""Training partitioned by school: the matrix per partition, LightGBM on Dask workers.

``lightgbm.dask`` has known problems this module works around (LightGBM's issue tracker):

- No early stopping in the Dask interface (issues 3712, 4189, 6351: it hangs or is
  refused). Training needs none: the number of trees is chosen on the rolling-origin
  folds from each fit's validation curve, read here after the fit
  (``training.model.validation_curve``), exactly as for a fit on one machine.
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

from core.cluster import run_tasks
from features.partitions import global_school_counts, partition_sources
from schooldata.partitions import Partition, PartitionError
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import Fitter

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
    return build_training_matrix(partition_sources(partition, counts), rules)


def dask_fitter(client: Any, seed: int) -> Fitter:
    """A fitter that trains with ``lightgbm.dask`` on the client's workers."""

    def fit(
        rows: pd.DataFrame, features: list[str], params: dict[str, Any], trees: int
    ) -> lgb.Booster:
        return fit_booster_on_dask(rows, features, params, trees, client=client, seed=seed)

    return fit


def fit_booster_on_dask(
    rows: pd.DataFrame,
    features: list[str],
    params: dict[str, Any],
    trees: int,
    *,
    client: Any,
    seed: int,
) -> lgb.Booster:
    """Exactly ``trees`` rounds with ``lightgbm.dask`` on the client's workers."""
    import dask.dataframe as dd
    from distributed import Lock

    # One chunk of shuffled rows per worker, each placed on its own worker: which rows a
    # worker holds decides its bins and bagging, so placement by the scheduler would
    # make every fit a different model.
    workers = sorted(client.scheduler_info()["workers"])
    shuffled = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    chunks = np.array_split(np.arange(len(shuffled)), len(workers))
    x_parts, y_parts = [], []
    for worker, chunk in zip(workers, chunks, strict=True):
        part = shuffled.iloc[chunk]
        if part["label"].nunique() < 2:
            raise ValueError(
                "a worker's share of the training rows holds one class only; "
                "train on more rows or fewer workers"
            )
        x_parts.append(client.scatter(part[features].astype(float), workers=[worker]))
        y_parts.append(client.scatter(part["label"].astype(int), workers=[worker]))
    x = dd.from_delayed(x_parts, meta=shuffled[features].astype(float).iloc[:0])
    y = dd.from_delayed(y_parts, meta=shuffled["label"].astype(int).iloc[:0])
    single_machine_only = ("num_threads",)
    settings = {k: v for k, v in params.items() if k not in single_machine_only}
    with Lock(FIT_LOCK):  # on the current client's scheduler
        model = lgb.DaskLGBMClassifier(client=client, n_estimators=trees, **settings)
        model.fit(x, y)
    booster: lgb.Booster = model.to_local().booster_
    return booster
