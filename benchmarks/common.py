"""Shared set-up for benchmarks: the default synthetic data, ingested into a scratch database."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from core.settings import Settings
from riskmodel.bundle import ModelBundle
from riskmodel.registry import CHAMPION, fetch_bundle
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from synth import SynthConfig, generate, write_directory


def synthetic_database(folder: Path, students: int = 12_000, schools: int = 20) -> sa.Engine:
    """Generate and ingest the default synthetic data once; reuse it when already there."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"ews-{students}.db"
    engine = make_engine(f"sqlite:///{db}")
    if db.exists():
        return engine
    started = time.perf_counter()
    data = folder / f"synth-{students}"
    write_directory(generate(SynthConfig(schools=schools, students=students)), data)
    ingest_directory(data, engine, "benchmark-key", folder / "rejects")
    print(f"prepared {students:,} synthetic students in {time.perf_counter() - started:.0f} s")
    return engine


def scratch_settings(engine: sa.Engine, store: Path) -> Settings:
    """Settings of a database and a fresh MLflow tracking store and registry in ``store``
    (a folder of the benchmark's work folder, emptied first: a run leaves nothing in the
    system's temporary folder)."""
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    return Settings(
        database_url=engine.url.render_as_string(),
        mlflow_tracking_uri=f"sqlite:///{store}/m.db",
        mlflow_artifact_root=store / "artifacts",
    )


def trained_champion(engine: sa.Engine, store: Path) -> tuple[Settings, ModelBundle, str]:
    """Train with the default configuration into a scratch MLflow store and promote it."""
    from training.config import TrainConfig
    from training.promote import promote
    from training.train import train

    settings = scratch_settings(engine, store)
    train(settings, TrainConfig.load(), engine)
    promote(settings, engine)
    bundle, version = fetch_bundle(settings.model_name, CHAMPION, store / "bundle")
    return settings, bundle, str(version.version)


def single_row_rates(
    functions: dict[str, Callable[[np.ndarray], object]],
    matrix: np.ndarray,
    rounds: int = 7,
    calls: int = 1000,
) -> dict[str, float]:
    """Rows per second of each function called on one row at a time: the median of
    ``rounds`` rounds of ``calls`` calls, the functions taking turns round by round (so a
    busy moment of the machine costs both)."""
    for function in functions.values():
        function(matrix[:1])  # warm up (compilation, caches)
    rates: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            for i in range(calls):
                function(matrix[i % len(matrix)][None, :])
            rates[name].append(calls / (time.perf_counter() - started))
    return {name: float(np.median(found)) for name, found in rates.items()}
