"""Which of a server's processes listen and hold connections, and a process's peak memory
(for the tests and benches).

``ews serve --workers N`` gives each worker a listening socket of its own; a worker still
loading the champion is not listening yet, and the kernel hands every connection to the
ones that are. Whoever measures or tests the workers waits for all of them.
"""

from __future__ import annotations

import resource
import subprocess
import time
from pathlib import Path

import psutil


def workers_of(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The server's worker processes (multiprocessing's resource tracker is not one)."""
    return [
        p
        for p in psutil.Process(server.pid).children()
        if "resource_tracker" not in " ".join(p.cmdline())
    ]


def connections_held(worker: psutil.Process, port: int) -> int:
    """Established connections to ``port`` the worker holds."""
    return sum(
        c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
        for c in worker.net_connections("tcp")
    )


def wait_for_workers(
    server: subprocess.Popen[bytes], port: int, count: int, seconds: float = 120
) -> None:
    """Return once ``count`` workers of ``server`` listen on ``port`` (one worker: the
    server's own process, when it serves alone).

    Raises:
        RuntimeError: the server stopped (with the end of its error output, if piped), or
            the workers were not all listening in time.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = server.stderr.read().decode()[-2000:] if server.stderr else ""
            raise RuntimeError(f"the server stopped (exit {server.returncode}): {tail}")
        try:
            listening = [
                w
                for w in workers_of(server) or [psutil.Process(server.pid)]
                if any(
                    c.status == psutil.CONN_LISTEN and c.laddr.port == port
                    for c in w.net_connections("tcp")
                )
            ]
        except psutil.NoSuchProcess:  # a worker ended while being looked at
            listening = []
        if len(listening) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{count} server processes were not listening in {seconds:.0f} s")


def peak_gb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss, not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
