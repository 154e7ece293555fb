"""A load generator that costs the measured machine little.

The benchmarks run the server, its database and the load on the same two cores. An HTTP
client library spends about as much CPU on a request as the server does, and a client
process that holds a benchmark's data pauses for its own garbage collection: both would be
counted as the server's time. Here each simulated user keeps one HTTP/1.1 connection and
writes prepared request bytes on it, and the collector is kept off this process's
long-lived objects while the load runs. Two loads: ``run``, a few users who never pause
(each sends its next request when the last is answered), and ``run_at_rate``, requests
arriving at random moments at a set rate whatever the answers.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import httpx

# A kept-alive connection idle this long is not used again: uvicorn closes one idle for
# 5 seconds (its default), and a request written as it does so would be lost.
IDLE_SECONDS = 2.0


def request_bytes(
    method: str, url: str, headers: Mapping[str, str], body: str | None = None
) -> bytes:
    """One HTTP/1.1 request, ready to write (the connection is kept alive)."""
    target = httpx.URL(url)
    payload = body.encode() if body is not None else b""
    lines = [f"{method} {target.raw_path.decode()} HTTP/1.1", f"Host: {target.host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def run(
    url: str, work: Iterable[tuple[str, bytes]], clients: int
) -> tuple[float, dict[str, list[float]]]:
    """Send every ``(label, request)`` of ``work``, ``clients`` at a time, each answer read
    whole before the client sends its next request.

    Returns:
        The seconds it all took, and each label's latencies in milliseconds.

    Raises:
        RuntimeError: an answer was not 200 (naming the label, the status and its start).
    """
    target = httpx.URL(url)
    host, port = target.host, target.port or 80
    latencies: dict[str, list[float]] = defaultdict(list)
    queue = iter(work)

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for label, request in queue:
                started = time.perf_counter()
                writer.write(request)
                status, body = await response(reader)
                latencies[label].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{label} answered {status}: {body[:200]!r}")
        finally:
            writer.close()

    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started, latencies
    finally:
        gc.unfreeze()


async def run_at_rate(
    url: str, work: Sequence[tuple[str, bytes]], rate: float, seed: int = 0
) -> tuple[float, dict[str, list[float]]]:
    """Send every ``(label, request)`` of ``work`` at random moments, ``rate`` a second on
    average (a Poisson process), whether or not the answers before have come: an open
    load, as many users who each open a page now and then make, where ``run`` is a few
    users who never pause.

    Each request is written on a connection no other request is waiting on (one is
    opened when none is free, or when the free one has been idle long enough for the
    server to close it: ``IDLE_SECONDS``), and its latency runs from the moment it was
    due: a request the generator itself sent late counts its delay, so a slow server is
    never flattered by requests held back.

    Returns:
        The seconds it all took, and each label's latencies in milliseconds.

    Raises:
        RuntimeError: an answer was not 200 (naming the label, the status and its start).
    """
    target = httpx.URL(url)
    host, port = target.host, target.port or 80
    latencies: dict[str, list[float]] = defaultdict(list)
    # Each free connection, with when it was last answered on.
    free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    opened: list[asyncio.StreamWriter] = []
    draw = random.Random(seed)

    async def send(label: str, request: bytes, due: float) -> None:
        reader = None
        while free and reader is None:
            reader, writer, last = free.pop()
            if reader.at_eof() or time.perf_counter() - last > IDLE_SECONDS:
                writer.close()
                reader = None
        if reader is None:
            reader, writer = await asyncio.open_connection(host, port)
            opened.append(writer)
        writer.write(request)
        status, body = await response(reader)
        latencies[label].append((time.perf_counter() - due) * 1000)
        free.append((reader, writer, time.perf_counter()))
        if status != 200:
            raise RuntimeError(f"{label} answered {status}: {body[:200]!r}")

    gc.collect()
    gc.freeze()
    try:
        started = due = time.perf_counter()
        sent = []
        for label, request in work:
            due += draw.expovariate(rate)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent.append(asyncio.create_task(send(label, request, due)))
        await asyncio.gather(*sent)
        return time.perf_counter() - started, latencies
    finally:
        gc.unfreeze()
        for writer in opened:
            writer.close()


async def response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: its status and body (by Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    pairs = (line.partition(":") for line in lines[1:] if line)
    fields = {k.strip().lower(): v.strip() for k, _, v in pairs}
    if "content-length" in fields:
        return status, await reader.readexactly(int(fields["content-length"]))
    if fields.get("transfer-encoding", "").lower() != "chunked":
        raise RuntimeError(f"an answer ({status}) with neither a length nor chunks")
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]
