"""Tasks on a pool of this machine's processes: every result, by task, errors raised here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dask
import pytest

from core.cluster import (
    WORKER_NICENESS,
    each_kept,
    kept_bytes,
    local_cluster,
    local_pool,
    run_tasks,
    worker_count,
)


def _where(task: int, offset: int) -> tuple[int, int, str | None]:
    return task + offset, os.getpid(), os.environ.get("NUMBA_NUM_THREADS")


def _fails_on_three(task: int) -> int:
    if task == 3:
        raise ValueError("task 3 has no enrolments")
    return task


def test_a_pool_gives_every_result_in_task_order_from_its_own_processes() -> None:
    progress: list[tuple[int, int]] = []
    with local_pool(2) as pool:
        assert pool is not None
        results = run_tasks(
            _where, list(range(8)), pool, lambda d, t: progress.append((d, t)), offset=100
        )
    assert [value for value, _, _ in results] == list(range(100, 108))
    assert os.getpid() not in {pid for _, pid, _ in results}
    assert progress == [(i, 8) for i in range(1, 9)]
    # Each worker's threads get its share of the cores.
    assert {threads for _, _, threads in results} == {str(max(1, (os.cpu_count() or 1) // 2))}


def _halves(task: int) -> tuple[int, bytes]:
    return -task, f"rows of {task} from {os.getpid()}".encode()


def _second_round(kept: Any) -> tuple[str, int]:
    return kept_bytes(kept).decode(), os.getpid()


@pytest.mark.parametrize("where", ["in turn", "pool", "dask"])
def test_kept_results_come_back_small_and_feed_a_second_round(
    where: str, tmp_path: Path, dask_cluster_client: Any
) -> None:
    with local_pool(2 if where == "pool" else 1) as pool:
        client = dask_cluster_client if where == "dask" else pool
        firsts = list(each_kept(_halves, [1, 2, 3], client, tmp_path))
        assert sorted((i, small) for i, small, _ in firsts) == [(0, -1), (1, -2), (2, -3)]
        kept = {i: large for i, _, large in firsts}
        # Here only the small half: the large one is in a file or on the Dask worker.
        assert all(isinstance(k, Path) for k in kept.values()) == (where != "dask")
        seconds = run_tasks(_second_round, [kept[i] for i in range(3)], client)
    made_by = [int(text.rsplit(" ", 1)[1]) for text, _ in seconds]
    assert [text.split(" from")[0] for text, _ in seconds] == [f"rows of {i}" for i in (1, 2, 3)]
    if where == "in turn":
        assert set(made_by) == {os.getpid()}


def _niceness(_task: int) -> int:
    return os.nice(0)


def test_a_pools_workers_yield_the_cpu_to_the_process_that_gathers_their_results() -> None:
    with local_pool(2) as pool:
        assert set(run_tasks(_niceness, [1, 2], pool)) == {min(19, os.nice(0) + WORKER_NICENESS)}


def test_a_failing_task_raises_its_error_here() -> None:
    with local_pool(2) as pool, pytest.raises(ValueError, match="task 3 has no enrolments"):
        run_tasks(_fails_on_three, list(range(6)), pool)


def test_one_process_means_no_pool() -> None:
    with local_pool(1) as pool:
        assert pool is None
        assert run_tasks(_fails_on_three, [1, 2], pool) == [1, 2]
        assert worker_count(pool) == 1


def test_a_run_plans_for_as_many_workers_as_its_pool_or_cluster_has(
    dask_cluster_client: Any,
) -> None:
    with local_pool(3) as pool:
        assert worker_count(pool) == 3
    assert worker_count(dask_cluster_client) == 2


def _worker_start() -> dict[str, Any]:
    return {
        "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        "threads": (os.environ.get("OMP_NUM_THREADS"), os.environ.get("NUMBA_NUM_THREADS")),
        "preloaded": "features.build" in sys.modules,
        "profiling": dask.config.get("distributed.worker.profile.enabled"),
    }


def test_a_local_clusters_workers_share_the_cores_keep_glibcs_malloc_and_import_their_code(
    dask_cluster_client: Any,
) -> None:
    # Dask's MALLOC_TRIM_THRESHOLD_ made every feature task half as slow again, and its
    # statistical profiler a tenth; each worker's threads get its share of the cores.
    started = dask_cluster_client.run(_worker_start)
    assert len(started) == 2
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert all(
        s == {"trim": None, "threads": (share, share), "preloaded": True, "profiling": False}
        for s in started.values()
    ), started


def test_a_local_cluster_leaves_this_processs_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Dask's nannies, which run in this process, used to set their workers' variables here
    # too: a Numba thread count changed under Numba, whose next compilation here then
    # failed ("Cannot set NUMBA_NUM_THREADS to a different value once the threads have
    # been launched") and took a request of the served API down with it.
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)

    with local_cluster(1) as client:
        (started,) = client.run(_worker_start).values()
        assert {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"} == {
            k: v for k, v in before.items() if k != "PYTHONHASHSEED"
        }

    cores = str(os.cpu_count() or 1)
    assert started["threads"] == (cores, cores)
    assert started["trim"] is None
