"""What every ``ews`` command shares: the console, the settings, the database, progress
messages, the Dask client, and how a command fails (a red message, exit code 2)."""

from __future__ import annotations

import contextlib
import getpass
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from core.secrets import SecretError, secret
from core.settings import Settings

# Written to a file or a pipe, tables are not squeezed to 80 columns (a word or a secret
# cut in two helps nobody).
console = Console(width=None if sys.stdout.isatty() else 200)


def fail(message: str) -> NoReturn:
    """Stop the command: the message in red (as written, never read as markup), exit 2."""
    console.print(f"[red]{escape(message)}[/red]", soft_wrap=True)
    raise typer.Exit(2)


def load_settings() -> Settings:
    """The settings from the environment; a bad or missing one exits 2 saying which."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]Setting refused: {escape(_setting_problem(problem))}[/red]")
        raise typer.Exit(2) from None


def _setting_problem(problem: Any) -> str:
    """What is wrong, naming the variable and what it holds (never the value given: it
    may be a secret)."""
    field = Settings.model_fields.get(str(problem["loc"][0])) if problem["loc"] else None
    if field is None:  # a check of several settings: its message names them
        return str(problem["msg"]).removeprefix("Value error, ")
    name = f"EWS_{str(problem['loc'][0]).upper()}"
    meaning = (field.description or "").rstrip(".")
    about = f" ({meaning[:1].lower()}{meaning[1:]})" if meaning else ""
    return f"{name}{about}: {problem['msg']}"


def database(settings: Settings) -> Any:
    """The operational database's engine."""
    from schooldata.db import make_engine

    return make_engine(settings.database_url)


def secret_or_exit(settings: Settings, name: str) -> str:
    try:
        return secret(settings, name)
    except SecretError as error:
        fail(str(error))


def actor() -> str:
    """Who runs the command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def steps(progress: Progress, task: Any) -> Any:
    """A long step's messages: on a terminal, the spinner's text; written to a file or a
    pipe (where the spinner shows nothing), a line each with the time since the start."""
    started = time.perf_counter()
    said: list[str] = []

    def report(message: str) -> None:
        if console.is_terminal:
            progress.update(task, description=message)
        elif not said or said[-1] != message:
            said.append(message)
            elapsed = int(time.perf_counter() - started)
            console.print(f"  [{elapsed // 60:02d}:{elapsed % 60:02d}] {message}")

    return report


# What the weekly run's workers, on Dask or on this machine's pool, import as they start.
SCORING_CODE = ("serving.scoring",)


@contextlib.contextmanager
def dask_or_exit(settings: Settings, preload: Sequence[str] = ("features.build",)) -> Iterator[Any]:
    """The Dask client the settings ask for (None: one process); unreachable exits 2.
    A local cluster's workers import ``preload`` (the code their tasks run) as they start."""
    from core.cluster import dask_client

    try:
        with dask_client(settings, preload) as client:
            yield client
    except ConnectionError as error:
        fail(str(error))


def parse_date(text: str):  # type: ignore[no-untyped-def]
    import pandas as pd

    try:
        return pd.Timestamp(date.fromisoformat(text))
    except ValueError:
        fail(f"Not a date: {text!r}; use YYYY-MM-DD.")
