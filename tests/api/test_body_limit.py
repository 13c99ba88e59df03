"""The request-body limit: a 413 with a JSON body, decided before the body (or the token) is read,
and 422 bodies that echo only a short prefix of the input. No database: these run on trio too."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import Message

from service.errors import INPUT_CHARS
from service.main import create_app
from service.settings import Settings

LIMIT = Settings.model_fields["max_body_bytes"].default
TOO_LARGE = {"detail": f"Request body too large: the limit is {LIMIT} bytes."}


async def test_declared_oversize_body_is_413_before_the_app_reads_it() -> None:
    # A raw ASGI call, so the test sees every read: an unauthenticated POST that declares 100 MB.
    app = create_app(Settings(api_token=SecretStr("t")))
    reads: list[object] = []
    sent: list[Message] = []

    async def receive() -> Message:
        reads.append("receive")
        return {"type": "http.request", "body": b"{}", "more_body": False}  # what it claims is not sent

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/users",
        "raw_path": b"/users",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100000000")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    assert reads == []
    assert sent[0]["status"] == 413
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == TOO_LARGE


class Chunks(httpx.AsyncByteStream):
    """``count`` chunks of 64 KiB, sent without a Content-Length (as a chunked upload), counting
    how many the app pulled. A class, not an async generator: a generator left unfinished by the
    413 would warn when collected."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.pulled = 0

    def __aiter__(self) -> Chunks:
        return self

    async def __anext__(self) -> bytes:
        if self.left == 0:
            raise StopAsyncIteration
        self.left -= 1
        self.pulled += 1
        return b"x" * 65536


@pytest.mark.parametrize("token", [False, True], ids=["anonymous", "with-token"])
async def test_streamed_oversize_body_is_413_after_reading_at_most_the_limit(
    bare_client: httpx.AsyncClient, api_token: str, token: bool
) -> None:
    stream = Chunks(1600)  # 100 MiB
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {api_token}"
    request = bare_client.build_request("POST", "/users", headers=headers)
    request.stream = stream

    response = await bare_client.send(request)

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert stream.pulled == LIMIT // 65536 + 1  # up to the chunk that crossed the limit, no further


# The bodies below are read and validated; the handler's database session is then opened and
# closed (SQLAlchemy's async session needs asyncio), hence `client`.


async def test_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    body = json.dumps({"email": "ada@example.com", "name": "x" * LIMIT}).encode()[:LIMIT]
    response = await client.post("/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422  # read, and found to be cut-off JSON: not a 413
    assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_validation_error_echoes_only_a_short_prefix(client: httpx.AsyncClient) -> None:
    response = await client.post("/users", json={"email": "ada@example.com", "name": "x" * (LIMIT - 100)})
    assert response.status_code == 422
    assert len(response.content) < 500
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert error["input"] == "x" * INPUT_CHARS + "..."


async def test_validation_errors_are_capped(client: httpx.AsyncClient) -> None:
    # One error per unknown field: a body of 5000 of them must not come back as 5000 errors.
    body = {"email": "ada@example.com", "name": "Ada", **{f"k{i}" * 20: i for i in range(5000)}}
    response = await client.post("/users", json=body)
    assert response.status_code == 422
    content = response.json()
    assert len(content["detail"]) == 20
    assert content["more_errors"] == 4980
    assert all(len(error["loc"][1]) <= INPUT_CHARS + 3 for error in content["detail"])
