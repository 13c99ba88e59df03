"""Inner suites for the ways out of the net issue 20 found: an app whose module-global engine is built
from its settings (APP_DATABASE_URL: the sentinel database), and code that writes through it in
every phase of a run but a database test's body. Each is refused where it happens, its message names
the phase and the code, and the run fails."""

from __future__ import annotations

# The app: a module-global engine on the developer's database, and a write through it.
ESCAPE_APP = """
import os

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine(os.environ["APP_DATABASE_URL"])
SessionLocal = async_sessionmaker(engine)


async def write(email):
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO users (email, name) VALUES (:email, 'leak')"), {"email": email})


def create_app(sessionmaker=None):
    return FastAPI()
"""

# A test module that writes at import (collection).
AT_IMPORT = """
import asyncio

from ownapp import write

asyncio.run(write("import@example.com"))


def test_never_runs():
    pass
"""

# Fixtures of each scope whose teardown writes through the app's engine (issue 20: 2 -> 0 rows, exit 0).
TEARDOWN = """
import pytest

from ownapp import engine
from sqlalchemy import text


@pytest.fixture(scope="{scope}")
async def wipe():
    yield
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM users"))


async def test_uses_the_fixture(wipe):
    pass
"""

# A session fixture's set-up (sync) writing through the app's engine.
SETUP = """
import asyncio

import pytest

from ownapp import write


@pytest.fixture(scope="session")
def seed():
    asyncio.run(write("seed@example.com"))


def test_uses_the_fixture(seed):
    pass
"""

# A task an async fixture's teardown starts: it fails in the task, where nobody reads its exception.
TASK_IN_TEARDOWN = """
import asyncio

import pytest

from ownapp import write


@pytest.fixture
async def notify():
    yield
    task = asyncio.get_running_loop().create_task(write("task@example.com"))
    await asyncio.wait([task])  # waits, does not raise: the task's exception is never retrieved


async def test_uses_the_fixture(notify):
    pass
"""

# A daemon thread writing in a loop (issue 20: 14 rows on SQLite, 7 on PostgreSQL, exit 0). The test
# waits for its first attempt, so the run cannot end before it.
THREAD = """
import asyncio
import threading

import pytest

from ownapp import write

tried = threading.Event()


def writer():
    while True:
        try:
            asyncio.run(write("thread@example.com"))
        except Exception:
            pass  # a worker that logs and retries
        tried.set()


@pytest.fixture(scope="session")
def worker():
    threading.Thread(target=writer, name="outbox", daemon=True).start()


def test_waits_for_the_worker(worker):
    assert tried.wait(30)
"""

# An outbox worker an anyio task group runs from the app's lifespan (issue 20: 22-29 rows per run).
LIFESPAN_WORKER_APP = ESCAPE_APP.replace(
    "from fastapi import FastAPI",
    "import anyio\nfrom contextlib import asynccontextmanager\nfrom fastapi import FastAPI",
).replace(
    """def create_app(sessionmaker=None):
    return FastAPI()""",
    """tried = None


async def outbox():
    while True:
        try:
            await write("outbox@example.com")
        except Exception:
            pass  # logs and retries
        tried.set()
        await anyio.sleep(0.001)


@asynccontextmanager
async def lifespan(app):
    global tried
    tried = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(outbox)
        yield
        group.cancel_scope.cancel()


def create_app(sessionmaker=None):
    return FastAPI(lifespan=lifespan)""",
)

LIFESPAN_WORKER_TESTS = """
import ownapp


async def test_with_the_app(client):
    await ownapp.tried.wait()
"""

# An engine a `-p` plugin built and used before testsupport was configured: its pooled connection is
# caught on its next use.
EARLY_PLUGIN = """
import asyncio

from sqlalchemy import text

from ownapp import engine


async def ping():
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


asyncio.run(ping())  # the pool now holds a connection the net never saw opened
"""

EARLY_TESTS = """
async def test_writes_through_the_early_engine(db_session):
    from ownapp import write

    await write("early@example.com")
"""

# The ends of the test's outer transaction other than db_connection.commit() (issue 20), each followed
# by a test that must find no row.
OUTER_DOORS = """
import pytest
from sqlalchemy import text

INSERT = text("INSERT INTO users (email, name) VALUES ('door@example.com', 'D')")


async def test_a_transaction_object(db_connection):
    await db_connection.execute(INSERT)
    await db_connection.get_transaction().commit()


@pytest.mark.parametrize("sql", ["COMMIT", "commit", "  END", "ROLLBACK", "/* c */ ROLLBACK", "ABORT"])
async def test_b_sql_text(db_connection, database, sql):
    if database == "sqlite" and sql == "ABORT":
        pytest.skip("PostgreSQL's synonym of ROLLBACK")
    await db_connection.execute(INSERT)
    await db_connection.execute(text(sql))
    await db_connection.execute(text("INSERT INTO users (email, name) VALUES ('after@example.com', 'A')"))


async def test_c_run_sync(db_connection):
    await db_connection.execute(INSERT)
    await db_connection.run_sync(lambda connection: connection.commit())


async def test_d_the_sessions_connection(db_session):
    await db_session.execute(INSERT)
    await db_session.run_sync(lambda session: session.connection().commit())


async def test_e_savepoints_are_fine(db_session, db_connection):
    await db_session.execute(INSERT)
    await db_session.commit()  # RELEASE SAVEPOINT
    await db_connection.execute(text("SAVEPOINT mine"))
    await db_connection.execute(text("ROLLBACK TO SAVEPOINT mine"))
    await db_connection.execute(text("RELEASE SAVEPOINT mine"))


async def test_z_finds_no_row(db_connection):
    assert await db_connection.scalar(text("SELECT count(*) FROM users")) == 0
"""

SYNC_TEST = """
from sqlalchemy import text


def test_sync(db_session):
    db_session.execute(text("SELECT 1"))


def test_sync_only_asks_for_it(db_session):
    pass  # requesting it is fine: only a dropped coroutine is refused
"""

# A session fixture that must reach a database of its own (an external service's): allowed inside
# `allow_other_engines()`, and only there.
ALLOWED = """
import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import testsupport


@pytest.fixture(scope="session")
def external(tmp_path_factory):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('external') / 'external.db'}")

    async def ping():
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT 1"))

    with testsupport.allow_other_engines():
        assert asyncio.run(ping()) == 1
    return ping


def test_allowed(external):
    pass


def test_not_allowed_outside_it(external):
    asyncio.run(external())
"""

# An old conftest.py kept by mistake, writing at import (before any test module is collected).
CONFTEST_AT_IMPORT = """
import asyncio

from ownapp import write

asyncio.run(write("conftest@example.com"))
"""
