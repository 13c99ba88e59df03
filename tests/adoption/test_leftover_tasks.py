"""Tasks an app leaves running on the session's loop end the run with an error that names them,
never a hang: the runner's close would cancel them and wait, for ever for one that does not end.
Inner runs in processes of their own (tests/inner.py's `popen`), with a deadline."""

from __future__ import annotations

import subprocess

import pytest

from tests.adoption.apps import FACTORY_APP, readme_block, write
from tests.inner import popen

# The factory app with a background worker that its lifespan starts and never ends.
START = "    async def lifespan(app: FastAPI) -> AsyncIterator[None]:\n"
WORKERS = {
    # An outbox-style worker on an aiosqlite engine of its own, busy when the session ends.
    "aiosqlite-worker": """
        import asyncio
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        worker_engine = create_async_engine("sqlite+aiosqlite:///worker.db")

        async def outbox_worker():
            while True:
                try:
                    async with worker_engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
                except Exception:  # an outbox worker logs and retries
                    pass
                await asyncio.sleep(0)

        app.state.worker = asyncio.get_running_loop().create_task(outbox_worker())
""",
    # A worker that swallows its cancellation: the runner's close would wait for it for ever.
    "ignores-cancellation": """
        import asyncio

        async def stubborn_worker():
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass

        app.state.worker = asyncio.get_running_loop().create_task(stubborn_worker())
""",
}
NAMES = {"aiosqlite-worker": "outbox_worker", "ignores-cancellation": "stubborn_worker"}


@pytest.mark.parametrize("worker", list(WORKERS))
def test_a_task_left_running_ends_the_session_with_its_name(pytester: pytest.Pytester, worker: str) -> None:
    main = FACTORY_APP["notes_app/main.py"]
    assert START in main
    write(
        pytester,
        {**FACTORY_APP, "notes_app/main.py": main.replace(START, START + WORKERS[worker])},
        readme_block("factory"),
    )
    proc = popen(pytester, "-p", "no:asyncio", "-k", "sqlite", "--sqlite-driver=aiosqlite")
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"the inner run hung at session end:\n{output.decode()}")
    text = output.decode()
    assert proc.returncode == 1, text
    assert f"running create_app.<locals>.lifespan.<locals>.{NAMES[worker]} (" in text, text
    assert "TasksLeftRunningError" in text, text
