"""The API against its own OpenAPI schema: Schemathesis generates valid and invalid requests for
every operation; no answer may be a 5xx, and every answer must match the schema (status code,
content type, headers, body), on SQLite and on PostgreSQL.

Schemathesis' own pytest integration (``@schema.parametrize`` and ``case.call``) is synchronous and
reaches an ASGI app through Starlette's TestClient, on a loop of its own in another thread: the app's
sessions, bound to this test's connection, would be used from the wrong loop. So Hypothesis runs in
a worker thread, and each request is sent on the test's loop (``anyio.from_thread.run``) through
`client`: every write stays in the test's transaction and is rolled back with it. Bounded and
repeatable: EXAMPLES per operation, derandomized (the same cases every run), no example database.
The long run is ``benchmarks/fuzz.py``.

Schemathesis and Hypothesis are imported inside the test: together they take ~0.6 s to import,
which every other run would pay at collection. Their pytest plugins are never loaded (the suite
names its plugins, pyproject.toml), so pytest does not mark their ~270 modules for assertion
rewriting either, which it cannot cache where PYTHONDONTWRITEBYTECODE is set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI

if TYPE_CHECKING:
    from tests.fuzzing import AnyCase, Operation

EXAMPLES = 20


@pytest.mark.parametrize("mode", ["positive", "negative"])
async def test_every_operation_answers_as_its_schema_says(
    app: FastAPI, client: httpx.AsyncClient, api_token: str, mode: str
) -> None:
    """One pass per generation mode. The positive pass sends ids that exist, so the handlers past
    the 404 run too, then DELETE last with generated ids (mostly 404s, checked against the schema
    too): deleting first would leave the other operations nothing to find."""
    from schemathesis import GenerationMode

    from tests import fuzzing

    answers: Counter[tuple[str, int]] = Counter()

    async def send(case: AnyCase) -> httpx.Response:
        response = await client.request(**fuzzing.request_args(case))
        answers[case.operation.label, response.status_code] += 1
        return response

    positive = mode == "positive"
    ids: dict[str, int] = {}
    if positive:
        user = await client.post("/users", json={"email": "fuzz@example.com", "name": "Fuzz"})
        ids["user_id"] = user.json()["id"]
        note = await client.post(f"/users/{ids['user_id']}/notes", json={"title": "Fuzz"})
        ids["note_id"] = note.json()["id"]

    def deletes(operation: Operation) -> bool:
        return operation.method.upper() == "DELETE"

    def run(path_parameters: dict[str, int], skip: Callable[[Operation], bool]) -> list[str]:
        failures: list[str] = fuzzing.fuzz(
            fuzzing.load(app.openapi()),
            lambda case: anyio.from_thread.run(send, case),
            mode=GenerationMode(mode),
            examples=EXAMPLES,
            headers={"Authorization": f"Bearer {api_token}"},
            path_parameters=path_parameters,
            skip=skip,
        )
        return failures

    if positive:
        failures = await anyio.to_thread.run_sync(run, ids, deletes)
        failures += await anyio.to_thread.run_sync(run, {}, lambda operation: not deletes(operation))
    else:
        failures = await anyio.to_thread.run_sync(run, {}, lambda _: False)

    assert not failures, "\n\n".join(failures)
    if positive:  # the cases reached the handlers, not only the validation
        assert {200, 201} <= {status for (_, status) in answers}, sorted(answers.items())
        assert answers["POST /users/{user_id}/notes", 201] > 0, sorted(answers.items())
        assert answers["PATCH /users/{user_id}", 200] > 0, sorted(answers.items())
        assert any(label.startswith("DELETE") for label, _ in answers), sorted(answers.items())
