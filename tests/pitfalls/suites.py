"""The inner suites: each wrong setup next to its fix. PITFALL_URL is the database they use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pitfall:
    title: str
    wrong: str
    right: str
    errors: list[str]  # fnmatch patterns the wrong setup prints
    outcome: dict[str, int]  # what the wrong setup's run ends with
    postgres: bool = True  # PITFALL_URL is PostgreSQL (asyncpg), else a SQLite file
    conftest: str = ""  # for suites that use testsupport itself, configured as the service (tests/service_suite.py)


FUNCTION_LOOP = """
import os
import pytest
from sqlalchemy import text
from service.db import make_engine

engine = make_engine(os.environ["PITFALL_URL"]{options})  # one pool for the whole module

@pytest.fixture
def anyio_backend():  # function scope: every test gets a new event loop
    return "asyncio"
{guard}
@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_query(n):
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
"""

SESSION_ENGINE = """
import os
import pytest
from sqlalchemy import text
from service.db import make_engine

@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"

@pytest.fixture(scope="session")
async def engine(anyio_backend):  # an async session fixture: it holds the loop for the session
    engine = make_engine(os.environ["PITFALL_URL"])
    yield engine
    await engine.dispose()

@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_query(engine, n):
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
"""

NO_LEASE = """
import asyncio, os
import pytest
from sqlalchemy import text
from service.db import make_engine

engine = make_engine(os.environ["PITFALL_URL"])

@pytest.fixture(scope="session")
def anyio_backend():  # session scope, but nothing holds anyio's runner between tests
    return "asyncio"
{keep_alive}
@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_query(n):
    print(f"loop={{id(asyncio.get_running_loop()):#x}}")
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
"""

KEEP_ALIVE = """
@pytest.fixture(scope="session", autouse=True)
async def keep_loop(anyio_backend):  # the lease: the runner stays open until the session ends
    yield
"""

LAZY_GLOBAL = """
import asyncio, os
import pytest
from sqlalchemy import text
from service.db import make_engine

_engine = None

def get_engine():  # the app's lazily created global engine
    global _engine
    if _engine is None:
        _engine = make_engine(os.environ["PITFALL_URL"])
    return _engine

@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"

@pytest.fixture(scope="session", autouse=True)
async def keep_loop(anyio_backend):
    yield
{setup}
@pytest.mark.anyio
@pytest.mark.parametrize("n", range(2))
async def test_query(n):
    async with get_engine().connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
"""

LAZY_WRONG_SETUP = """
@pytest.fixture(scope="session", autouse=True)
def warm_up():  # a synchronous set-up step touches the engine first, on a loop of its own
    async def ping():
        async with get_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))
    asyncio.run(ping())
"""

LAZY_RIGHT_SETUP = """
@pytest.fixture(scope="session", autouse=True)
async def warm_up(keep_loop):  # the same step as an async fixture: on the tests' loop
    async with get_engine().connect() as conn:
        await conn.execute(text("SELECT 1"))
    yield
    await get_engine().dispose()
"""

SQLITE_SAVEPOINTS = """
import os
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from service.db import make_engine
from service.models import Base, User

@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"

@pytest.fixture(scope="session")
async def engine(anyio_backend):
    engine = {factory}(os.environ["PITFALL_URL"])
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()

@pytest.fixture
async def session(engine):
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        yield session
        await session.close()
        await outer.rollback()

@pytest.mark.anyio
@pytest.mark.parametrize("n", range(2))
async def test_commit_is_rolled_back_after_the_test(session, n):
    assert await session.scalar(select(func.count()).select_from(User)) == 0
    session.add(User(email=f"u{{n}}@example.com", name="U"))
    await session.commit()  # what a handler does: a RELEASE SAVEPOINT here
"""

ALEMBIC = """
import asyncio, os
import anyio.to_thread
import pytest
from service import migrate

URL = os.environ["PITFALL_URL"]

@pytest.fixture(scope="session", params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
async def test_migrate_inside_the_loop(anyio_backend):
{body}
"""

ALEMBIC_WRONG = """
    if anyio_backend == "asyncio":
        migrate.upgrade("head", url=URL)  # env.py's asyncio.run() inside the running loop
    else:
        await asyncio.to_thread(migrate.upgrade, "head", url=URL)  # asyncio's helper, on trio
"""

ALEMBIC_RIGHT = """
    await anyio.to_thread.run_sync(lambda: migrate.upgrade("head", url=URL))  # any backend
"""

LIFESPAN = """
import httpx
import pytest
from asgi_lifespan import LifespanManager
from service.main import create_app
from service.settings import Settings

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
async def test_health():
    app = create_app(Settings(database_url="sqlite+aiosqlite://", api_token="t"))
{client}
        assert (await client.get("/health")).status_code == 200
"""

LIFESPAN_WRONG = """
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
"""

LIFESPAN_RIGHT = """
    async with LifespanManager(app) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://t"
    ) as client:
"""

OVERRIDES = """
import httpx
import pytest
from asgi_lifespan import LifespanManager
from service.dependencies import verify_auth
from service.main import create_app
from service.settings import Settings

app = create_app(Settings(database_url="sqlite+aiosqlite:////nonexistent/x.db", api_token="t"))

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.fixture
async def client():
    async with LifespanManager(app) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://t"
    ) as client:
        yield client
{teardown}
@pytest.mark.anyio
async def test_1_an_admin_route(client):
    app.dependency_overrides[verify_auth] = lambda: "admin"  # bypass auth for this test only?
    assert (await client.delete("/notes/1")).status_code != 401

@pytest.mark.anyio
async def test_2_anonymous_write_is_rejected(client):
    assert (await client.delete("/notes/1")).status_code == 401
"""

OVERRIDES_RIGHT = """
@pytest.fixture(autouse=True)
def restore_overrides():
    saved = dict(app.dependency_overrides)
    yield
    app.dependency_overrides.clear()
    app.dependency_overrides.update(saved)
"""

GUARD = """
from testsupport.guard import install_loop_guard
install_loop_guard(engine)
"""

GUARD_MESSAGE = (
    "*testsupport.guard.LoopMismatchError: Engine for postgresql+asyncpg://postgres@/test_* was used from "
    "event loop 0x*, but its pooled connection was opened on event loop 0x* (now closed). A connection "
    "belongs to the loop that opened it. Fix: run every test and fixture that uses this engine on one "
    "loop: make `anyio_backend` session-scoped AND keep a session-scoped async fixture alive "
    "(testsupport's `anyio_session_runner`), or create and dispose the engine inside each test."
)

APP_OWN_SESSION = """
import pytest
from testsupport.app import serve
{client}
async def test_create_user(client):
    response = await client.post("/users", json={{"email": "a@example.com", "name": "A"}})
    assert response.status_code == 201
"""

APP_OWN_SESSION_WRONG = """
@pytest.fixture
async def client(session_app):  # hand-made: the app's sessions are not bound to the test's connection
    async with serve(session_app, headers={"Authorization": "Bearer test-token"}) as client:
        yield client
"""

PITFALLS = {
    "function-scoped-loop": Pitfall(
        "A function-scoped event loop with a shared asyncpg engine",
        FUNCTION_LOOP.format(options="", guard=""),
        SESSION_ENGINE,
        ["*attached to a different loop*", "*another operation is in progress*"],
        {"passed": 1, "failed": 2},
    ),
    "session-backend-without-lease": Pitfall(
        "A session-scoped anyio_backend, but no async fixture holding the runner",
        NO_LEASE.format(keep_alive=""),
        NO_LEASE.format(keep_alive=KEEP_ALIVE),
        ["*attached to a different loop*"],
        {"passed": 1, "failed": 2},
    ),
    "lazy-global-engine": Pitfall(
        "The app's lazily created global engine, first touched outside the tests' loop",
        LAZY_GLOBAL.format(setup=LAZY_WRONG_SETUP),
        LAZY_GLOBAL.format(setup=LAZY_RIGHT_SETUP),
        ["*attached to a different loop*"],
        {"failed": 2},
    ),
    "savepoint-leak-sqlite": Pitfall(
        "SQLite savepoints without the BEGIN fix: a committed row survives the test",
        SQLITE_SAVEPOINTS.format(factory="create_async_engine"),
        SQLITE_SAVEPOINTS.format(factory="make_engine"),
        ["*assert 1 == 0*"],
        {"passed": 1, "failed": 1},
        postgres=False,
    ),
    "alembic-in-the-loop": Pitfall(
        "Alembic's async env.py inside the running loop; asyncio.to_thread on trio",
        ALEMBIC.format(body=ALEMBIC_WRONG),
        ALEMBIC.format(body=ALEMBIC_RIGHT),
        ["*asyncio.run() cannot be called from a running event loop*", "*no running event loop*"],
        {"failed": 2},
        postgres=False,
    ),
    "asgi-transport-without-lifespan": Pitfall(
        "httpx.ASGITransport does not run the app's lifespan",
        LIFESPAN.format(client=LIFESPAN_WRONG),
        LIFESPAN.format(client=LIFESPAN_RIGHT),
        ["*request.state.sessionmaker is missing: the app's lifespan did not run*"],
        {"failed": 1},
        postgres=False,
    ),
    "dependency-overrides-leak": Pitfall(
        "app.dependency_overrides not restored: an override leaks into the next test",
        OVERRIDES.format(teardown=""),
        OVERRIDES.format(teardown=OVERRIDES_RIGHT),
        ["*assert 503 == 401*"],
        {"passed": 1, "failed": 1},
        postgres=False,
    ),
    "pool-pre-ping-is-not-the-fix": Pitfall(
        "pool_pre_ping=True on the function-scoped-loop setup: the ping itself fails",
        FUNCTION_LOOP.format(options=", pool_pre_ping=True", guard=""),
        SESSION_ENGINE,
        # The ping runs on the new loop and fails the same way; that invalidates the connection,
        # so the next test gets a fresh one: the suite now fails every other test.
        ["*: in do_ping", "*attached to a different loop*"],
        {"passed": 2, "failed": 1},
    ),
    "app-own-session": Pitfall(
        "A test whose requests reach the app's own sessions instead of the test session",
        APP_OWN_SESSION.format(client=APP_OWN_SESSION_WRONG),
        APP_OWN_SESSION.format(client=""),  # testsupport's `client`
        ["*AppSessionUsedError: A request opened a database session while no test had bound the app's sessions*"],
        {"failed": 1, "deselected": 3},
        postgres=False,
        conftest="# testsupport, configured as the service is",
    ),
    "loop-guard-message": Pitfall(
        "The function-scoped-loop setup with testsupport's loop guard: a readable error",
        FUNCTION_LOOP.format(options="", guard=GUARD),
        SESSION_ENGINE,
        [GUARD_MESSAGE],
        {"passed": 2, "failed": 1},
    ),
}
