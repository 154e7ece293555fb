"""Tasks on a pool of this machine's processes: every result, by task, errors raised here."""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import dask
import pytest

from core.cluster import (
    WORKER_NICENESS,
    Done,
    kept_bytes,
    local_cluster,
    local_pool,
    run_tasks,
    two_rounds,
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


def _halves(task: int, sign: int) -> tuple[int, bytes]:
    return sign * task, f"rows of {task} from {os.getpid()}".encode()


def _second_round(kept: Any, suffix: str) -> tuple[str, bool]:
    return kept_bytes(kept).decode() + suffix, isinstance(kept, Path)


@pytest.mark.parametrize("where", ["in turn", "pool", "dask"])
def test_two_rounds_run_the_second_on_what_the_first_kept(
    where: str, tmp_path: Path, dask_cluster_client: Any
) -> None:
    progress: list[tuple[int, int]] = []
    with local_pool(2 if where == "pool" else 1) as pool:
        client = dask_cluster_client if where == "dask" else pool
        done = list(
            two_rounds(
                _halves,
                [1, 2, 3],
                _second_round,
                client,
                spool=tmp_path,
                on_progress=lambda d, t: progress.append((d, t)),
                first_shared={"sign": -1},
                second_shared={"suffix": "!"},
            )
        )
    firsts = {d.index: d.value for d in done if d.round == 1}
    seconds = {d.index: d.value for d in done if d.round == 2}
    assert firsts == {0: -1, 1: -2, 2: -3}
    assert sorted(seconds) == [0, 1, 2]
    for i, (text, from_file) in seconds.items():
        assert text.startswith(f"rows of {i + 1} from ")
        assert text.endswith("!")
        # Here only the small half came: the large one went to a file, or on Dask stayed
        # on its worker.
        assert from_file == (where != "dask")
    # A task's second round comes after its first.
    assert all(
        done.index(Done(1, i, firsts[i])) < done.index(Done(2, i, seconds[i])) for i in range(3)
    )
    assert progress == [(i, 6) for i in range(1, 7)]
    if where == "in turn":
        assert [d.round for d in done] == [1, 1, 1, 2, 2, 2]


def _slow_first(task: int) -> tuple[int, bytes]:
    if task == 0:
        time.sleep(1.5)
    return task, b"kept"


def _second(kept: Any) -> int:
    return len(kept_bytes(kept))


def test_a_second_round_fills_the_worker_the_first_rounds_last_task_leaves_idle(
    tmp_path: Path,
) -> None:
    with local_pool(2) as pool:
        done = list(two_rounds(_slow_first, [0, 1, 2, 3], _second, pool, spool=tmp_path))
    # Tasks 1-3 and their second rounds are done on one worker while task 0 runs.
    first_of_zero = done.index(Done(1, 0, 0))
    assert {(d.round, d.index) for d in done[:first_of_zero]} >= {(2, 1), (2, 2)}


def _marks(task: int, folder: Path) -> tuple[int, bytes]:
    (folder / str(task)).touch()
    time.sleep(1.0 if task == 0 else 0.3)
    return task, b"kept"


def test_stopping_early_cancels_the_tasks_not_started(tmp_path: Path) -> None:
    with local_pool(2) as pool:
        rounds = two_rounds(
            _marks,
            [1, 0, 2, 3, 4, 5, 6, 7],
            _second,
            pool,
            spool=tmp_path,
            first_shared={"folder": tmp_path},
        )
        next(rounds)
        rounds.close()
    ran = {int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()}
    assert {0, 1} <= ran
    assert not ran >= {5, 6, 7}  # cancelled: not started by then


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


def _collector_and_allocator(_task: int = 0) -> tuple[int, tuple[int, ...], str]:
    import pyarrow as pa

    return gc.get_freeze_count(), gc.get_threshold(), pa.default_memory_pool().backend_name


def test_a_run_leaves_the_collector_and_the_allocator_of_every_process_as_they_were() -> None:
    # The process that gathers a run, and a server's, must not have its memory or its
    # collector tuned; the workers run as any process does.
    before = _collector_and_allocator()
    with local_pool(2, preload=["features.build"]) as pool:
        in_workers = run_tasks(_collector_and_allocator, [1, 2], pool)
    assert _collector_and_allocator() == before
    assert all(worker == (0, before[1], before[2]) for worker in in_workers), in_workers


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
