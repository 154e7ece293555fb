"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary cluster.

``make test`` installs Debian's ``postgresql`` where it can. Without it the PostgreSQL
tests skip, and fail under ``CI=true``. As root, the cluster runs as the ``postgres``
user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa


def postgres_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on the PATH or Debian's versioned folder."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A running temporary cluster on 127.0.0.1, trust authentication, user ``ews``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        # Not under pytest's per-user temporary folder: the postgres user must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="ews-postgres-"))
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_postgres, *command], check=True, capture_output=True, text=True)

    def start(self) -> None:
        data = self.directory / "data"
        self._run(
            str(self.bindir / "initdb"), "-D", str(data), "-U", "ews", "--auth=trust", "-E", "UTF8"
        )
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -F"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.directory / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            )
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://ews@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new empty database."""
        name = f"ews_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer | None]:
    """A started server, or None when PostgreSQL is not installed here."""
    bindir = postgres_bindir()
    if bindir is None:
        yield None
        return
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
