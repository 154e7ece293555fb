"""Several server processes on one port, each with a listening socket of its own.

uvicorn's ``--workers`` binds one socket in the parent and shares it: every worker
accepts from the same queue, and an event loop that wakes first accepts every waiting
connection at once. Kept-alive connections (browsers, a proxy's upstream pool, an
integration's client) then all end up in one process while the others idle: measured
here with eight users, one worker at 93% of a core and the other at 0.1%. On Linux each
worker here binds its own ``SO_REUSEPORT`` socket instead, and the kernel spreads new
connections across them (by a hash of the connection's addresses). A worker that dies
is started again; one that fails at start-up (no champion, a bad database URL) stops
the whole server with its error. Elsewhere uvicorn's own supervisor serves.

Such a group takes in any socket of the same user that asks to join it, so a second
server started on the port (a restart begun before the old server stopped) would share
the connections with the first, each answering from its own settings and database. The
serving process therefore checks the port outside the group first, and holds a socket in
the group for its whole life that the check cannot share: a second server is refused,
even while a worker of the first is being started again.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("ews.serve")


class ServeError(RuntimeError):
    """The server could not start (the port is taken, or a worker failed at start-up)."""


def reuse_port_supported() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` in the port's ``SO_REUSEPORT`` group (not yet
    listening: the worker's event loop listens on it)."""
    return _bound(host, port, reuse_address=True, in_group=True)


def _bound(host: str, port: int, *, reuse_address: bool, in_group: bool) -> socket.socket:
    """A socket bound to ``host:port``. ``reuse_address``: past connections' TIME_WAIT do
    not block the bind; ``in_group``: in the port's ``SO_REUSEPORT`` group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse_address))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(in_group))
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def log_to_stderr() -> None:
    """The service's log: INFO and above to stderr, each line with its time and logger.
    Set in the serving process and again in each worker (a spawned process starts with
    none: the requests and the weekly runs went unlogged)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One server process: its own socket, the app built from the factory ``app``."""
    log_to_stderr()
    sock = listening_socket(host, port)
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve(app: str, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the app factory ``app`` (an import string) in ``workers`` processes until
    SIGINT or SIGTERM.

    Raises:
        ServeError: the port cannot be bound, or a worker failed at start-up.
    """
    if not reuse_port_supported():
        uvicorn.run(app, factory=True, host=host, port=port, workers=workers, **options)
        return
    # Fail here, with a message, rather than in every worker: a port in use by another
    # program or another server refuses a bind outside the group.
    _bound(host, port, reuse_address=True, in_group=False).close()
    # In the group, without SO_REUSEADDR and never listening (no connection comes to it):
    # that bind fails for a second server as long as this one lives.
    guard = _bound(host, port, reuse_address=False, in_group=True)
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    failed: list[str] = []

    def start() -> BaseProcess:
        process = context.Process(
            target=_worker, args=(app, host, port, options), name="ews-worker"
        )
        process.start()
        logger.info("started worker process %s", process.pid)
        return process

    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    try:
        while not stop.wait(0.5):
            for number, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    failed.append(f"worker process {process.pid} failed at start-up")
                    stop.set()
                    break
                logger.warning(
                    "worker process %s ended (exit %s): starting another",
                    process.pid,
                    process.exitcode,
                )
                processes[number] = start()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # uvicorn finishes the requests under way
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for number, handler in previous.items():
            signal.signal(number, handler)
        guard.close()
    if failed:
        raise ServeError(f"{failed[0]}: see its error above")
