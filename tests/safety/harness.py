"""The safety tests' harness: the sentinel database (the developer's own, holding two rows the run
must leave exactly as they were) and the inner runs, configured by ini keys as an adopter's are."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from service.db import async_url, make_engine
from tests.inner import ARGS as INNER_ARGS
from tests.inner import run_inprocess
from tests.safety.suites import project_ini
from tests.service_suite import use_service
from testsupport.postgres import postgres_database
from testsupport.serverrun.admin import in_thread

SENTINEL_ROWS = [("sentinel-1@example.com", "Kept"), ("sentinel-2@example.com", "Kept too")]


def sentinel_rows(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT email, name FROM users ORDER BY email"))
                return [(email, name) for email, name in rows]
        finally:
            await engine.dispose()

    result: list[tuple[str, str]] = in_thread(lambda: asyncio.run(read()))
    return result


def sentinel_database(database: str, tmp_path: Path) -> Iterator[str]:
    """A throwaway database of the current target with a `users` table holding two rows."""

    def fill(url: str, key: str) -> str:
        async def create() -> None:
            engine = make_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        text(f"CREATE TABLE users (id {key}, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(100))")
                    )
                    for email, name in SENTINEL_ROWS:
                        await connection.execute(
                            text("INSERT INTO users (email, name) VALUES (:email, :name)"),
                            {"email": email, "name": name},
                        )
            finally:
                await engine.dispose()

        in_thread(lambda: asyncio.run(create()))
        return url

    if database == "sqlite":
        yield fill(f"sqlite+aiosqlite:///{tmp_path / 'sentinel.db'}", "INTEGER PRIMARY KEY")
        return
    with postgres_database(None, suffix="_sentinel") as url:
        yield fill(url, "SERIAL PRIMARY KEY")


def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    """An inner session in this process (tests/inner.py): a subprocess costs a new interpreter and
    its imports, seconds under load, for a run of tenths of a second. The net's listeners stay the
    outer run's (install() leaves them to their owner); NET follows the inner tests and is idle
    again when the inner run ends. No bytecode is written: a test rewrites its app module or test
    file between two runs, and a .pyc of the first (same second, same size) must not be reused."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    # --tb=native: pytest's own traceback style parses the source of every frame (hundreds in
    # SQLAlchemy), seconds per failing inner test; the messages asserted are the same lines.
    result = run_inprocess(pytester, monkeypatch, "--tb=native", *args)
    # pytest keeps an inner test's failure in sys.last_* (its frames, and the coroutines in them);
    # a subprocess would drop it at exit. Drop it and collect it here, so what an interrupted
    # handler leaves unawaited ("coroutine ... was never awaited") stays the inner run's, as it did
    # in a subprocess, instead of surfacing as an unraisable warning in a later outer test.
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "unraisablehook", lambda _: None)
        gc.collect()
    return result


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    suite: str,
    *args: str,
    app: str = "",
    subprocess: bool = False,
) -> pytest.RunResult:
    """``suite`` as test_suite.py; ``app``: the module ownapp.py that testsupport_app names (else
    the project is the service itself)."""
    if app:
        pytester.makepyprojecttoml(project_ini())
        pytester.makepyfile(ownapp=app)
    else:
        use_service(pytester)
    pytester.makepyfile(test_suite=suite)
    if subprocess:  # plugins named, not discovered, as in process (tests/inner.py)
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        return pytester.runpytest_subprocess(*INNER_ARGS, "--tb=native", *args)
    return inner(pytester, monkeypatch, *args)


def settings_url(sentinel_url: str) -> str:
    return async_url(sentinel_url).render_as_string(hide_password=False)


def shown(sentinel_url: str) -> str:
    return async_url(sentinel_url).render_as_string(hide_password=True)
