"""Cluster plumbing: a Dask client when the settings ask for one, and tasks run on it or here.

The same task function runs on Dask workers, on a pool of processes of this machine
(``local_pool``), or one after another in this process (which bounds memory by the
task); callers never branch on which.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import operator
import os
import pickle
import sys
import threading
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # workers import this module; the settings only name a type here
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
    if isinstance(client, LocalPool):
        yield from client.each_result(function, tasks, on_progress, shared)
        return
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


@dataclass(frozen=True)
class Done:
    """A finished task of ``two_rounds``: its round (1 or 2), its task's index, its result."""

    round: int
    index: int
    value: Any


def two_rounds(
    first: Callable[..., tuple[Any, bytes]],
    tasks: Sequence[Any],
    second: Callable[..., Any],
    client: Any,
    *,
    spool: Path,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    first_shared: dict[str, Any] | None = None,
    second_shared: dict[str, Any] | None = None,
) -> Generator[Done, None, None]:
    """``first(task, **first_shared)`` for every task, which returns ``(small, large)``,
    ``large`` being bytes; then, as each finishes, ``second(kept, **second_shared)`` on
    what it kept, reading ``large`` with ``kept_bytes(kept)``. Yields each task as it is
    done; the first round's tasks run before any of the second's, and the second round's
    fill the workers a first round's last tasks leave idle.

    Only ``small`` and the second round's results come here. On Dask, ``large`` stays on
    the worker that made it, where the second round then runs; from a local pool or tasks
    in turn here, it goes to a file in ``spool``. In turn, each second task runs when
    the caller asks for the next result, after every first one. Tasks not yet done are
    cancelled when the caller stops early (closes this generator).
    """
    first_shared, second_shared = first_shared or {}, second_shared or {}
    total = 2 * len(tasks)
    if client is None:
        kept = []
        for i, task in enumerate(tasks):
            small, large = first(task, **first_shared)
            kept.append(_spooled(spool, large))
            on_progress(i + 1, total)
            yield Done(1, i, small)
        for i, path in enumerate(kept):
            result = second(path, **second_shared)
            on_progress(len(tasks) + i + 1, total)
            yield Done(2, i, result)
    elif isinstance(client, LocalPool):
        yield from client.two_rounds(
            first,
            tasks,
            second,
            spool,
            on_progress=on_progress,
            first_shared=first_shared,
            second_shared=second_shared,
        )
    else:
        yield from _dask_two_rounds(
            client,
            first,
            tasks,
            second,
            on_progress=on_progress,
            first_shared=first_shared,
            second_shared=second_shared,
        )


def _spooled(spool: Path, data: bytes) -> Path:
    path = spool / f"kept-{uuid.uuid4().hex}"
    path.write_bytes(data)
    return path


def _dask_two_rounds(
    client: Any,
    first: Callable[..., tuple[Any, bytes]],
    tasks: Sequence[Any],
    second: Callable[..., Any],
    *,
    on_progress: Callable[[int, int], None],
    first_shared: dict[str, Any],
    second_shared: dict[str, Any],
) -> Iterator[Done]:
    from distributed import as_completed as dask_completed

    firsts = {k: client.scatter(v, broadcast=True) for k, v in first_shared.items()}
    seconds = {k: client.scatter(v, broadcast=True) for k, v in second_shared.items()}
    both = client.map(first, tasks, pure=False, **firsts)
    # Each pair is let go of once both halves are taken from it.
    smalls = [client.submit(operator.itemgetter(0), f, pure=False) for f in both]
    larges = [client.submit(operator.itemgetter(1), f, pure=False) for f in both]
    del both
    which = {future.key: (1, i) for i, future in enumerate(smalls)}
    running = dask_completed(smalls)
    try:
        for done, future in enumerate(running, start=1):
            round_, i = which.pop(future.key)
            value = future.result()
            future.release()
            if round_ == 1:
                # Where the large half is: Dask runs the task on its worker.
                after = client.submit(second, larges[i], pure=False, **seconds)
                larges[i].release()
                which[after.key] = (2, i)
                running.add(after)
            on_progress(done, 2 * len(tasks))
            yield Done(round_, i, value)
    finally:
        running.clear()
        client.cancel([*smalls, *larges])


def kept_bytes(kept: Any) -> bytes:
    """The ``large`` bytes a second-round task of ``two_rounds`` is given (a spool file's
    path, or on Dask the bytes themselves)."""
    return kept.read_bytes() if isinstance(kept, Path) else bytes(kept)


def worker_count(client: Any) -> int:
    """How many workers run the tasks: a pool's processes, a Dask cluster's workers at
    this moment, or one (in turn, here)."""
    if isinstance(client, LocalPool):
        return client.workers
    if client is None:
        return 1
    # One entry per worker (``scheduler_info`` lists only a few in some versions).
    return max(1, len(client.nthreads()))


@dataclass(frozen=True)
class LocalPool:
    """Worker processes of this machine: what a Dask client gives, without a cluster.

    Each worker holds one task's data at a time, so memory is bounded by the task times
    the workers. The machine's cores are shared among the workers for their own threads
    (OpenMP, Arrow, Numba), so two workers on two cores do not fight over them.
    """

    executor: ProcessPoolExecutor
    workers: int
    # Done once every worker has started and imported its ``preload`` modules (a no-op
    # each, submitted as the pool starts); None: started already.
    warm_up: Future[None] | None = None

    @property
    def starting(self) -> bool:
        """Whether some worker is still starting (importing the code its tasks run)."""
        return self.warm_up is not None and not self.warm_up.done()

    def two_rounds(
        self,
        first: Callable[..., tuple[Any, bytes]],
        tasks: Sequence[Any],
        second: Callable[..., Any],
        spool: Path,
        *,
        on_progress: Callable[[int, int], None],
        first_shared: dict[str, Any],
        second_shared: dict[str, Any],
    ) -> Iterator[Done]:
        calls = {
            round_: (uuid.uuid4().hex, pickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL))
            for round_, call in ((1, (first, first_shared)), (2, (second, second_shared)))
        }
        # Submitted in order, taken in order: every first task before any second one.
        pending = {
            self.executor.submit(_run_shared, *calls[1], task): (1, i)
            for i, task in enumerate(tasks)
        }
        done = 0
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: pending[f]):
                    round_, i = pending.pop(future)
                    value = future.result()
                    if round_ == 1:
                        value, large = value
                        kept = _spooled(spool, large)
                        pending[self.executor.submit(_run_shared, *calls[2], kept)] = (2, i)
                    done += 1
                    on_progress(done, 2 * len(tasks))
                    yield Done(round_, i, value)
        finally:
            for future in pending:
                future.cancel()

    def each_result(
        self,
        function: Callable[..., T],
        tasks: Sequence[Any],
        on_progress: Callable[[int, int], None],
        shared: dict[str, Any],
    ) -> Iterator[tuple[int, T]]:
        # The shared arguments travel with each task as bytes and are unpickled once per
        # worker and call.
        payload = pickle.dumps((function, shared), protocol=pickle.HIGHEST_PROTOCOL)
        key = uuid.uuid4().hex
        position = {
            self.executor.submit(_run_shared, key, payload, task): i for i, task in enumerate(tasks)
        }
        try:
            for done, future in enumerate(as_completed(position), start=1):
                result = future.result()
                on_progress(done, len(tasks))
                yield position[future], result
        finally:
            for future in position:
                future.cancel()


@contextlib.contextmanager
def local_pool(
    workers: int | None = None, preload: Sequence[str] = ()
) -> Iterator[LocalPool | None]:
    """A pool of ``workers`` processes (default: one per core); None for one worker (the
    tasks then run in turn in this process).

    Workers are forked from a server process (``forkserver``), never from this one, whose
    threads may hold locks; the server only imports the ``preload`` modules (whose
    libraries' idle threads, OpenBLAS's and jemalloc's, make themselves safe to fork) and
    forks. They start at once, while the caller goes on (counting the schools, say), not
    when the first task arrives.
    """
    count = workers or os.cpu_count() or 1
    if count <= 1:
        yield None
        return
    threads = _cores_each(count)
    context = multiprocessing.get_context("forkserver")
    # The server the workers are forked from imports the modules once, before any worker
    # starts (a server already running, started by an earlier pool, is left as it is):
    # two workers importing them each cost a second and a core apiece, while this
    # process counts the schools on the other (``features.partitions.partition_counts``).
    context.set_forkserver_preload(list(preload))
    executor = ProcessPoolExecutor(
        count,
        mp_context=context,
        initializer=_start_worker,
        initargs=(threads, tuple(preload)),
    )
    # Each submission while none is idle starts a worker; the first waits for the server's
    # imports. Submitted from a thread, so this process goes on meanwhile.
    warm_up: Future[None] = Future()

    def start() -> None:
        try:
            wait([executor.submit(int) for _ in range(count)])
            warm_up.set_result(None)
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits for it
            warm_up.set_exception(error)

    starter = threading.Thread(target=start, name="pool-start", daemon=True)
    starter.start()
    try:
        yield LocalPool(executor, count, warm_up)
    finally:
        starter.join()
        executor.shutdown(wait=True, cancel_futures=True)


def _cores_each(workers: int) -> int:
    """Each of ``workers`` processes' share of this machine's cores for its threads."""
    return max(1, (os.cpu_count() or 1) // workers)


# How much lower a pool worker's CPU priority is than its parent's (``os.nice``): with
# 10, a busy parent gets about nine tenths of a core the workers also want.
WORKER_NICENESS = 10

_CALLS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}


def _start_worker(threads: int, preload: tuple[str, ...]) -> None:
    # Read by OpenMP (LightGBM), Arrow and Numba when they first load, so set first.
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(threads)
    # Below the process that gathers the results: in a weekly run it stores one
    # partition's results while the workers explain the next, and its store is the run's
    # serial path (so is a web server's request on the same machine).
    os.nice(WORKER_NICENESS)
    # Imported by the server before the fork, with its environment: Numba's thread count
    # is read again now, before it starts any thread (setting it would start them at
    # the count read before), and Arrow's is set.
    if "numba" in sys.modules:
        sys.modules["numba"].config.reload_config()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].set_cpu_count(threads)
    for module in preload:
        importlib.import_module(module)


def _run_shared(key: str, payload: bytes, task: Any) -> Any:
    if key not in _CALLS:
        if len(_CALLS) >= 2:  # the shared arguments of two calls at a time (two rounds)
            del _CALLS[next(iter(_CALLS))]
        # Bytes this machine's parent process wrote, over the pool's own pipe (which is
        # pickle too): nothing from outside.
        _CALLS[key] = pickle.loads(payload)  # noqa: S301
    function, shared = _CALLS[key]
    return function(task, **shared)


# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536: glibc then gives freed
# memory back at once, and the feature families, which allocate and free frames of
# millions of rows, fault it in again page by page. Left out, Dask's workers free memory
# as any process does (docs/design.md, the hot path). The rest of Dask's start-up
# environment stays.
_UNSET_IN_WORKERS = ("MALLOC_TRIM_THRESHOLD_",)


@contextlib.contextmanager
def local_cluster(workers: int, preload: Sequence[str] = ()) -> Iterator[Any]:
    """A client of a local Dask cluster of ``workers`` processes, one thread each, which
    import the ``preload`` modules as they start (as a running cluster's workers have)."""
    import dask
    from distributed import Client, LocalCluster

    environ = {
        k: v
        for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
        if k not in _UNSET_IN_WORKERS
    }
    # Each worker's share of the cores for its own threads, as in ``local_pool`` (Dask
    # sets OpenMP's alone; Numba's explanations would start a thread a core in each).
    threads = str(_cores_each(workers))
    environ |= {"OMP_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads}
    with (
        dask.config.set(
            {
                # Set in each worker as it starts, before its code is imported. A nanny
                # also sets its pre-spawn variables in its own process, which for a local
                # cluster is this one: Numba's thread count changed under it, and its
                # next compilation here failed. None of these must precede the
                # interpreter (glibc's, which would, is the one left out).
                "distributed.nanny.pre-spawn-environ": {},
                "distributed.nanny.environ": environ,
                # The statistical profiler samples every thread's stack every 10 ms for
                # a dashboard these clusters do not serve.
                "distributed.worker.profile.enabled": False,
            }
        ),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            preload=list(preload),
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def dask_client(settings: Settings, preload: Sequence[str] = ()) -> Iterator[Any]:
    """A Dask client when ``EWS_DASK_ADDRESS`` is set (``local``: a local cluster whose
    workers import ``preload`` as they start), else None.

    Raises:
        ConnectionError: the scheduler cannot be reached.
    """
    if not settings.dask_address:
        yield None
    elif settings.dask_address == "local":
        with local_cluster(settings.dask_workers, preload) as client:
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
