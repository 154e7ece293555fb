"""Benchmark: POST /api/v1/score/features (one student, with explanation) against
``mlflow models serve`` on the same model (prediction only), 32 concurrent clients each.

Run with ``make bench-api``. Both servers run on this machine as one process each, on
loopback; the load generator (``benchmarks.http_load``: prepared requests on kept-alive
connections, cheap beside the servers) has 32 concurrent clients and a fixed number of
requests. Then, in the same run, the single-row explanation on the same
model: ours (what the route runs: the raw score and its contributions) against
``shap.TreeExplainer``, one row per call. The last line is

    score_rps=<n> mlflow_rps=<n> ratio=<x> p99_ms=<n> mlflow_p99_ms=<n> explain_single_ratio=<x>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import shap

from benchmarks import http_load
from benchmarks.common import single_row_rates, synthetic_database, trained_champion
from benchmarks.http_load import request_bytes
from features.sources import Sources
from riskmodel.explain import Explainer
from serving.accounts import create_user
from training.promote import held_out_rows

CLIENTS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


async def load(
    url: str, bodies: list[str], headers: dict[str, str], requests: int
) -> tuple[float, np.ndarray]:
    """Send ``requests`` POSTs from 32 concurrent clients (``benchmarks.http_load``, after
    one warm-up request); returns (seconds, latencies in ms)."""
    async with httpx.AsyncClient(timeout=60) as http:
        (await http.post(url, content=bodies[0], headers=headers)).raise_for_status()
    prepared = [request_bytes("POST", url, headers, body) for body in bodies]
    work = (("POST", prepared[i % len(prepared)]) for i in range(requests))
    seconds, latencies = await http_load.run(url, work, CLIENTS)
    return seconds, np.asarray(latencies["POST"])


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=3000, help="synthetic students to train on")
    parser.add_argument("--requests", type=int, default=3000, help="requests per server")
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench"))
    args = parser.parse_args()

    engine = synthetic_database(args.work_dir, args.students, schools=8)
    settings, bundle, version = trained_champion(engine, args.work_dir / "mlflow-api")
    rows = held_out_rows(Sources.from_database(engine), bundle).sample(500, random_state=0)
    features = bundle.features
    token = create_user(engine, "analyst", "benchmark")[1]

    # The same rows to both: unknown values are null to our API and NaN to MLflow's, which
    # is the same model input (MLflow's server rejects null for a float column).
    ours_body = [
        json.dumps({"rows": [{f: (None if pd.isna(v) else float(v)) for f, v in row.items()}]})
        for row in rows[features].to_dict("records")
    ]
    mlflow_body = [
        json.dumps(
            {"dataframe_split": {"columns": features, "data": [[float(v) for v in row]]}},
            allow_nan=True,
        )
        for row in rows[features].to_numpy()
    ]

    # mlflow models serve starts `uvicorn` by name: the environment's bin must be on PATH.
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "EWS_DATABASE_URL": settings.database_url,
        "EWS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
    }
    ours_port, mlflow_port = free_port(), free_port()
    ews = str(Path(sys.executable).with_name("ews"))
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    results = {}
    ours, theirs = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
    json_type = {"Content-Type": "application/json"}
    for name, command, health, url, bodies, headers in (
        (
            "score",
            [ews, "serve", "--port", str(ours_port)],
            f"{ours}/health",
            f"{ours}/api/v1/score/features",
            ours_body,
            json_type | {"Authorization": f"Bearer {token}"},
        ),
        (
            "mlflow",
            [
                mlflow_cli,
                "models",
                "serve",
                "-m",
                f"models:/{settings.model_name}@champion",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
                "--workers",
                "1",
            ],
            f"{theirs}/ping",
            f"{theirs}/invocations",
            mlflow_body,
            json_type,
        ),
    ):
        process = start(command, env)
        try:
            wait_until_up(health)
            seconds, latencies = asyncio.run(load(url, bodies, headers, args.requests))
        finally:
            stop(process)
        results[name] = (
            args.requests / seconds,
            np.percentile(latencies, 50),
            np.percentile(latencies, 99),
        )
        print(
            f"{name:>6}: {results[name][0]:7.1f} requests/s, p50 {results[name][1]:6.1f} ms, "
            f"p99 {results[name][2]:6.1f} ms ({CLIENTS} clients, {args.requests} requests, "
            f"model v{version})"
        )
    matrix = bundle.matrix(rows)
    explainer = shap.TreeExplainer(bundle.model)
    singles = single_row_rates(
        {"ours": Explainer(bundle).explain, "shap.TreeExplainer": explainer.shap_values}, matrix
    )
    for name, rate in singles.items():
        print(f"single-row explanation, {name}: {rate:,.0f} rows/s")
    score_rps, mlflow_rps = results["score"][0], results["mlflow"][0]
    print(
        f"score_rps={score_rps:.1f} mlflow_rps={mlflow_rps:.1f} ratio={score_rps / mlflow_rps:.2f} "
        f"p99_ms={results['score'][2]:.1f} mlflow_p99_ms={results['mlflow'][2]:.1f} "
        f"explain_single_ratio={singles['ours'] / singles['shap.TreeExplainer']:.2f}"
    )


if __name__ == "__main__":
    main()
