"""Cluster plumbing: a Dask client when the settings ask for one, and tasks run on it or here.

The same task function runs on Dask workers or one after another in this process
(which bounds memory by the task); callers never branch on which.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from core.settings import Settings

T = TypeVar("T")


def run_tasks(
    function: Callable[..., T],
    tasks: Sequence[Any],
    client: Any = None,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    **shared: Any,
) -> list[T]:
    """``function(task, **shared)`` for every task, on Dask workers or here in turn.

    Shared arguments (a model, the school counts) are sent to the workers once;
    ``on_progress(done, total)`` is called as each task finishes.
    """
    results: list[Any] = [None] * len(tasks)
    for i, result in each_result(function, tasks, client, on_progress, **shared):
        results[i] = result
    return results


def each_result(
    function: Callable[..., T],
    tasks: Sequence[Any],
    client: Any = None,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    **shared: Any,
) -> Iterator[tuple[int, T]]:
    """Like ``run_tasks``, but yields ``(task index, result)`` as each task finishes, so
    the caller can keep one result at a time (in completion order on Dask)."""
    if client is None:
        for i, task in enumerate(tasks):
            result = function(task, **shared)
            on_progress(i + 1, len(tasks))
            yield i, result
        return
    from distributed import as_completed

    scattered = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
    futures = client.map(function, tasks, pure=False, **scattered)
    position = {future.key: i for i, future in enumerate(futures)}
    # Fetch each result as it is done and let go of it, so a worker holds one
    # partition's results at a time rather than all of them until the end.
    for done, future in enumerate(as_completed(futures), start=1):
        result = future.result()
        future.release()
        on_progress(done, len(tasks))
        yield position[future.key], result


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A client of a local Dask cluster of ``workers`` processes, one thread each."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def dask_client(settings: Settings) -> Iterator[Any]:
    """A Dask client when ``EWS_DASK_ADDRESS`` is set (``local``: a local cluster), else None.

    Raises:
        ConnectionError: the scheduler cannot be reached.
    """
    if not settings.dask_address:
        yield None
    elif settings.dask_address == "local":
        with local_cluster(settings.dask_workers) as client:
            yield client
    else:
        from distributed import Client

        try:
            client = Client(settings.dask_address, timeout=30)
        except OSError as error:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {settings.dask_address} "
                f"(EWS_DASK_ADDRESS): {error}"
            ) from None
        with client:
            yield client
