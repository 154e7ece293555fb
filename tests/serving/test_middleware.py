"""The request guard on a real uvicorn server, in front of a route that records what
reaches it."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from serving.middleware import RequestGuard
from tests.serving.conftest import serving


def _recording_app(seen: list[bytes]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_a_form_cut_short_by_the_client_never_reaches_the_route() -> None:
    """The guard reads a form's body whole to look for a NUL; a client that left half
    way through must not have its half handed on as the whole form (a note cut short,
    saved as if complete)."""
    seen: list[bytes] = []
    with serving(RequestGuard(_recording_app(seen), max_body_bytes=10_000)) as url:
        whole = httpx.post(f"{url}/notes", data={"note": "whole"})
        port = urlparse(url).port
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(
                b"POST /notes HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 40\r\n\r\nnote=half"
            )
            time.sleep(0.3)  # the guard has read the piece that came
        time.sleep(0.5)  # and the disconnect

    assert whole.status_code == 200
    assert seen == [b"note=whole"]
