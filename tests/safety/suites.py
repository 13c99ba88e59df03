"""Inner suites for the safety net (testsupport/net/), each configured by ini keys as docs/adoption.md
says: an app module (``ownapp.py``) named by ``testsupport_app``, or the service
itself (tests/service_suite.py). APP_DATABASE_URL is the database the app's settings name (a
throwaway "sentinel" database holding rows the run must not touch). The pitfall
"app-own-engine-from-settings" is in testsupport's pitfall registry; tests/safety runs its suites
from there."""

from __future__ import annotations

from tests.service_suite import service_ini


def project_ini(app: str = "ownapp:create_app") -> str:
    """The service's testsupport keys (tests/service_suite.py), with ``testsupport_app`` naming
    the suite's own app module; the pytester folder on the path so it imports."""
    return service_ini(pythonpath=(".",)).replace(
        'testsupport_app = "service.main:create_app"', f'testsupport_app = "{app}"'
    )


# An app in the common template shape: settings read at import, one module-global engine; its
# factory (testsupport_app) is handed the test's sessionmaker. The wrong one ignores it.
OWN_ENGINE_APP = """
import os
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from service.db import make_engine

engine = make_engine(os.environ["APP_DATABASE_URL"])  # settings.database_url, at import time
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


def create_app(sessionmaker=None):
    sessions = {sessions}
    app = FastAPI()

    @app.post("/users", status_code=201)
    async def create_user(body: dict):
        async with sessions() as session:
            await session.execute(text("INSERT INTO users (email, name) VALUES (:email, :name)"), body)
            await session.commit()
        return body

    return app
"""

# The same app, its module engine built with the keywords every template passes (issue 19: the net
# once hid them from create_engine, which refused `echo=` and `execution_options=`). Doubled braces:
# the app is str.format()ted like OWN_ENGINE_APP.
KEYWORDS_APP = OWN_ENGINE_APP.replace(
    'make_engine(os.environ["APP_DATABASE_URL"])',
    'create_async_engine(\n    os.environ["APP_DATABASE_URL"], echo=False, pool_pre_ping=True, '
    'execution_options={{"logging_token": "app"}}\n)',
).replace("from service.db import make_engine", "from sqlalchemy.ext.asyncio import create_async_engine")

OWN_ENGINE_WRONG_SESSIONS = "SessionLocal  # the module's own, whatever it is given"
OWN_ENGINE_RIGHT_SESSIONS = "sessionmaker or SessionLocal  # the tests hand it theirs"

OWN_ENGINE_TESTS = """
async def test_create_user(client):
    response = await client.post("/users", json={"email": "a@example.com", "name": "A"})
    assert response.status_code == 201
"""

FOREIGN_ENGINE_MESSAGE = (
    "*ForeignEngineError: test_suite.py::test_create_user[[]asyncio-*[]] uses testsupport's database, but a "
    "connection was opened on the engine for {url}, created at *service/db.py:* (make_engine), called from "
    "ownapp.py:* (<module>) (at ownapp.py:* (create_user), during *). That is not the test's engine: its reads "
    "and writes go to another database, "
    "outside the test's transaction, and are never rolled back. Fix: hand the app the test's sessions: set "
    "testsupport_sessionmaker to the async_sessionmaker its handlers use *, or have the factory named by "
    "testsupport_app use the `sessionmaker=` / `engine=` it is given instead of building its own from settings*"
)

# An app whose lifespan builds its own engine and sessionmaker from settings, ignoring the one it is
# given: here its settings name the test's own database, as in the report that led to the net (rows
# leaked between tests and testsupport said nothing).
LIFESPAN_APP = """
from contextlib import asynccontextmanager
from fastapi import FastAPI, Request
from sqlalchemy import text
from service.db import make_engine, make_sessionmaker


def create_app(engine=None, sessionmaker=None):
    database_url = engine.url.render_as_string(hide_password=False)  # its settings: the test's database

    @asynccontextmanager
    async def lifespan(app):
{lifespan}

    app = FastAPI(lifespan=lifespan)

    @app.post("/users", status_code=201)
    async def create_user(body: dict, request: Request):
        async with request.state.sessionmaker() as session:
            await session.execute(text("INSERT INTO users (email, name) VALUES (:email, :name)"), body)
            await session.commit()
        return body

    return app
"""

LIFESPAN_TESTS = """
import pytest


@pytest.mark.parametrize("n", range(2))
async def test_create_user(client, n):
    response = await client.post("/users", json={"email": "a@example.com", "name": "A"})
    assert response.status_code == 201
"""

LIFESPAN_WRONG = """
        engine = make_engine(database_url)  # its own pool, from settings: `sessionmaker` is ignored
        yield {"sessionmaker": make_sessionmaker(engine)}
        await engine.dispose()
"""

LIFESPAN_RIGHT = """
        if sessionmaker is not None:  # given one (the tests'): use it, build nothing
            yield {"sessionmaker": sessionmaker}
            return
        engine = make_engine(database_url)
        yield {"sessionmaker": make_sessionmaker(engine)}
        await engine.dispose()
"""

LIFESPAN_MESSAGE = (
    "*ForeignEngineError: test_suite.py::test_create_user[[]asyncio-*-0[]] uses testsupport's database, but a "
    "connection was opened on the engine for *, created at *service/db.py:* (make_engine), called from "
    "ownapp.py:* (lifespan)*"
)

# db_connection.commit(): the test's outer transaction committed. The next test must find no row.
COMMIT = """
from sqlalchemy import text

async def test_1_commits_its_connection(db_connection):
    await db_connection.execute(text("INSERT INTO users (email, name) VALUES ('c@example.com', 'C')"))
    await db_connection.commit()

async def test_2_finds_no_row(db_connection):
    assert await db_connection.scalar(text("SELECT count(*) FROM users")) == 0
"""

COMMIT_MESSAGE = (
    "*TestEngineMisuseError: test_suite.py::test_1_commits_its_connection[[]asyncio-*[]] called "
    "`db_connection.commit()` on its connection's outer transaction (commit, rollback and close are testsupport's: "
    "it rolls that transaction back at teardown). A commit would leave the test's rows in the database for every "
    "later test*"
)

# The other misuses the net stops where they happen, each followed by a test that finds no row.
MISUSES = """
import pytest
from sqlalchemy import create_engine, text

INSERT = text("INSERT INTO users (email, name) VALUES ('m@example.com', 'M')")
COUNT = text("SELECT count(*) FROM users")


async def test_a_second_connection_from_the_test_engine(db_session, engine):
    async with engine.begin() as connection:  # outside the test's transaction: a real commit
        await connection.execute(INSERT)


async def test_b_closing_the_tests_connection(db_connection):
    await db_connection.execute(INSERT)
    await db_connection.close()


@pytest.fixture(scope="module")
async def seeded(schema):
    async with schema.begin() as connection:  # a fixture writing through the session engine
        await connection.execute(INSERT)


async def test_c_a_module_fixture_writing_through_the_engine(seeded, db_session):
    pass


async def test_d_no_database_but_the_app_reaches_for_it(bare_client):
    token = {"Authorization": "Bearer test-token"}
    await bare_client.post("/users", json={"email": "b@example.com", "name": "B"}, headers=token)


OUTSIDE = create_engine("sqlite://")  # made at import, not by the test


def test_e_no_database_but_an_engine_made_elsewhere():
    with OUTSIDE.connect():
        pass


@pytest.mark.db(transaction=True)
def test_f_real_commits_without_the_database():
    pass


@pytest.mark.db
def test_h_marked_db_without_the_database():
    pass


def test_g_an_engine_the_test_builds_itself_is_its_own_business(tmp_path):
    own = create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    with own.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    own.dispose()


async def test_z_finds_no_row(db_connection):
    assert await db_connection.scalar(COUNT) == 0
"""

MISUSE_MESSAGES = [
    "*TestEngineMisuseError: test_suite.py::test_a_second_connection_from_the_test_engine[[]*[]] checked out a "
    "second connection from the test engine (the engine for *) in savepoint mode*",
    "*TestEngineMisuseError: test_suite.py::test_b_closing_the_tests_connection[[]*[]] called "
    "`db_connection.close()` on its connection's outer transaction*",
    "*TestEngineMisuseError: fixture `seeded` used the test engine (the engine for *) outside any test's "
    "transaction (at test_suite.py:* (seeded), during the set-up of module-scoped fixture `seeded`): what it "
    "writes is committed for real and leaks into every later test*",
    "*DatabaseBlockedError: test_suite.py::test_d_no_database_but_the_app_reaches_for_it[[]*[]] did not ask for "
    "the database, but it used the app's sessionmaker, which outside the `app` fixture is bound to no database*"
    "Fix: request `client` or `app`*",
    "*DatabaseBlockedError: test_suite.py::test_e_no_database_but_an_engine_made_elsewhere did not ask for the "
    "database, but it used the engine for sqlite://, created at test_suite.py:* (<module>)*",
    "*test_f_real_commits_without_the_database is marked `db(transaction=True)` but does not use the test's database*",
    "*test_h_marked_db_without_the_database is marked `db` but requests no database fixture. Fix: request "
    "`client` or `app`*",
]
