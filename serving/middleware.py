"""What wraps every request: a size limit, no NUL character, security headers, and errors
without leaks.

Plain ASGI (an ``@app.middleware`` wrapper costs more than a score). The log carries the
method, the route template, the status and the time, never the path (paths carry
student ids); an unexpected error is logged with the route template and an error id
only, and the caller gets the same id, so nothing of the request (SQL parameters,
student ids in a message) reaches the log or the response.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ews.api")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = [
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The interactive API documentation loads its own scripts: no page policy there.
DOCS = ("/docs", "/redoc", "/openapi.json")
# The API's documentation page starts Swagger UI with an inline script (FastAPI's page):
# inline code is allowed there, but nothing from another server, as on every page.
DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class BodyTooLarge(Exception):
    """The request body is over the limit; it was not read further."""


UPLOAD_PATH = "/upload"
# A NUL character is no part of any value, and PostgreSQL refuses it in text: a code, a
# filter or a note holding one failed there as an internal error (SQLite took it). Refused
# at the door, on either database, with what is wrong. As a body writes it: JSON escapes
# it, a form percent-encodes it; a multipart body (a school's files) may hold the byte.
NUL_IN_BODY = {
    b"application/json": (b"\x00", b"\\u0000"),
    b"application/x-www-form-urlencoded": (b"\x00", b"%00"),
}
NUL_REFUSED = "the request holds a NUL character (\\u0000 or %00), which no value may hold"


class RequestGuard:
    """Limits, headers, the request log and the last line of error handling."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        https: bool = False,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # The upload page takes a school's files; every other body stays small.
        self.max_upload_bytes = max_upload_bytes or max_body_bytes
        self.headers = HEADERS + (
            [(b"strict-transport-security", b"max-age=31536000; includeSubDomains")]
            if https
            else []
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        sent = False
        path = str(scope.get("path", ""))
        limit = self.max_upload_bytes if path == UPLOAD_PATH else self.max_body_bytes

        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            # Refused before a byte of the body is read.
            await self._error(send, 413, f"the request body is over {limit} bytes")
            self._log(scope, 413, started)
            return

        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            await self._error(send, 400, NUL_REFUSED)
            self._log(scope, 400, started)
            return
        kind = headers.get(b"content-type", b"").split(b";")[0].strip()
        marks = NUL_IN_BODY.get(kind.lower(), ())
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        inner = counted
        if marks:  # a JSON or form body, small: read whole here and checked
            try:
                body = await _whole_body(counted)
            except BodyTooLarge:
                await self._error(send, 413, f"the request body is over {limit} bytes")
                self._log(scope, 413, started)
                return
            if body is None:  # the client left before sending all of it: nothing to do
                self._log(scope, 499, started)
                return
            if any(mark in body for mark in marks):
                await self._error(send, 400, NUL_REFUSED)
                self._log(scope, 400, started)
                return
            unread = [{"type": "http.request", "body": body, "more_body": False}]

            async def again() -> Message:
                return unread.pop() if unread else await receive()

            inner = again

        async def secured(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                sent = True
                extra = list(self.headers)
                policy = DOCS_POLICY if path.startswith(DOCS) else CONTENT_SECURITY_POLICY
                extra.append((b"content-security-policy", policy.encode()))
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in extra if name not in names
                ]
            await send(message)

        try:
            await self.app(scope, inner, secured)
        except BodyTooLarge:
            status = 413
            if not sent:
                await self._error(send, 413, f"the request body is over {limit} bytes")
        except Exception as error:  # the last line: nothing about the request may leak
            status = 500
            error_id = uuid.uuid4().hex[:12]
            log.error(
                "unexpected %s on %s %s (error %s)",
                type(error).__name__,
                scope.get("method"),
                getattr(scope.get("route"), "path", "unmatched"),
                error_id,
            )
            if not sent:
                await self._error(send, 500, f"internal error {error_id}", error_id)
        finally:
            self._log(scope, status, started)

    async def _error(self, send: Send, status: int, detail: str, error_id: str = "") -> None:
        body = json.dumps({"detail": detail} | ({"error_id": error_id} if error_id else {}))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *self.headers],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        log.info(
            "%s %s %s %.1fms",
            scope.get("method"),
            getattr(scope.get("route"), "path", "unmatched"),
            status,
            (time.perf_counter() - started) * 1000,
        )


async def _whole_body(receive: Receive) -> bytes | None:
    """A request's body, every piece of it; None when the client disconnected first (a
    form cut short must never reach a route as if it were whole)."""
    pieces = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(pieces)
