"""The request-body size limit, enforced before the body is read."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_detail(max_bytes: int) -> str:
    return f"Request body too large: the limit is {max_bytes} bytes."


class BodySizeLimit:
    """Pure ASGI middleware: a request whose Content-Length is over ``max_bytes`` gets a JSON 413
    before the app runs, so neither its body nor its token is read (the size is checked first, auth
    second). A body without a Content-Length (chunked) is counted as the app reads it, and the read
    that goes over the limit raises a 413, so at most ``max_bytes`` plus one chunk is ever held.

    FastAPI's own ``max_body_size`` (0.165) answers the first case in plain text and the second in
    JSON; this answers both the same way, ``{"detail": ...}`` like every other error here."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = too_large_detail(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI re-raises those from its body reading (anything
                    # else becomes a 400) and its handler answers {"detail": ...} in JSON.
                    raise HTTPException(413, detail=self.detail)
            return message

        await self.app(scope, counting_receive, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": self.detail}, separators=(",", ":")).encode()  # as Starlette's
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects it; if not, the streamed count still applies
    return None
