"""The pitfalls: wrong test setups next to their fixes, each a small pytest suite of its own.

``python -m testsupport.pitfalls list`` names them; ``show NAME`` runs one and prints the wrong
setup's code, its real error, the fix and its passing run. testsupport's own tests run the same
suites (tests/pitfalls). The suites are in ``suites/``, one folder per pitfall with ``wrong/`` and
``fixed/``; ``suites/myapp.py`` is the small app they test, standing for a user's project.

Adding one: a folder ``suites/NAME/`` with ``wrong/test_NAME.py`` and ``fixed/test_NAME.py`` (the
database in ``DATABASE_URL``), an entry below, a row in docs/pitfalls.md's table, and a row in
the error index (docs/errors.md) for each message it prints (tests/pitfalls checks all three). A suite on testsupport
itself (``testsupport=True``) has its ``pytest.ini`` in ``suites/NAME/``, and runs in a session of
its own; ``DATABASE_URL`` is then only for an app that reads it (``settings_database``).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Pitfall:
    name: str
    title: str
    symptom: str  # one line, for `list`
    wrong: str  # the wrong suite's folder under suites/
    fixed: str  # its fix's folder (several pitfalls share one fix)
    errors: tuple[str, ...]  # fnmatch patterns the wrong run prints, in order; {url}: its database
    outcome: dict[str, int] = field(default_factory=dict)  # the wrong run's result
    postgres: bool = True  # on PostgreSQL (asyncpg), else on a SQLite file (aiosqlite)
    mariadb: bool = False  # on MariaDB (aiomysql) instead (with postgres=False)
    testsupport: bool = False  # a suite on testsupport itself: a pytest session of its own
    select: tuple[str, ...] = ("-k", "sqlite")  # a testsupport suite's selection: its SQLite target
    # A testsupport suite whose app reads DATABASE_URL from its settings: the SQL that makes that
    # SQLite database (the developer's own, holding rows of its own). The wrong suite then also runs
    # without testsupport, and `show` prints what `settings_rows` finds there after each run.
    settings_database: tuple[str, ...] = ()
    settings_rows: str = ""

    def patterns(self, url: str) -> list[str]:
        if "{url}" not in "".join(self.errors):
            return list(self.errors)
        shown = glob.escape(make_url(url).render_as_string(hide_password=True))
        return [p.replace("{url}", shown) for p in self.errors]


LOOP_GUARD_MESSAGE = (
    "*testsupport.guard.LoopMismatchError: Engine for {url} was used from event loop 0x*, but its pooled "
    "connection was opened on event loop 0x* (now closed). A connection belongs to the loop that opened it. "
    "Fix: run every test and fixture that uses this engine on one loop: make `anyio_backend` session-scoped "
    "AND keep a session-scoped async fixture alive (testsupport's `anyio_session_runner`), or create and "
    "dispose the engine inside each test."
)
DIFFERENT_LOOP = "*got Future <Future pending cb=[[]BaseProtocol._on_waiter_completed()]> attached to a different loop*"

PITFALLS: dict[str, Pitfall] = {
    p.name: p
    for p in (
        Pitfall(
            "function-scoped-loop",
            "A function-scoped event loop with a shared asyncpg engine",
            "the 2nd test: `attached to a different loop`; the 3rd: `another operation is in progress`",
            "function_scoped_loop/wrong",
            "function_scoped_loop/fixed",
            (DIFFERENT_LOOP, "*InterfaceError*cannot perform operation: another operation is in progress*"),
            {"passed": 1, "failed": 2},
        ),
        Pitfall(
            "session-backend-without-lease",
            "A session-scoped anyio_backend, but no async fixture holding the runner",
            "each test on a new loop: `attached to a different loop`",
            "session_backend_without_lease/wrong",
            "session_backend_without_lease/fixed",
            (DIFFERENT_LOOP,),
            {"passed": 1, "failed": 2},
        ),
        Pitfall(
            "lazy-global-engine",
            "The app's lazily created global engine, first touched outside the tests' loop",
            "every test: `attached to a different loop`",
            "lazy_global_engine/wrong",
            "lazy_global_engine/fixed",
            (DIFFERENT_LOOP,),
            {"failed": 2},
        ),
        Pitfall(
            "function-scoped-loop-aiosqlite",
            "A function-scoped event loop with a shared aiosqlite engine whose pool is contended",
            "works by luck until a task waits for the pool: `<Queue ...> is bound to a different event loop`",
            "function_scoped_loop_aiosqlite/wrong",
            "function_scoped_loop_aiosqlite/fixed",
            ("*RuntimeError: <Queue at 0x* is bound to a different event loop",),
            {"passed": 1, "failed": 2},
            postgres=False,
        ),
        Pitfall(
            "function-scoped-loop-mariadb",
            "The first setup on MariaDB through aiomysql (the same suite, files linked)",
            "the 2nd test: `got Future <Future pending> attached to a different loop`; the pool then drops "
            "that connection and the 3rd passes",
            "function_scoped_loop_mariadb/wrong",
            "function_scoped_loop_mariadb/fixed",
            ("*RuntimeError: Task <Task pending *> got Future <Future pending> attached to a different loop",),
            {"passed": 2, "failed": 1},
            postgres=False,
            mariadb=True,
        ),
        Pitfall(
            "savepoint-leak-sqlite",
            "SQLite savepoints without the BEGIN fix: a committed row survives the test",
            "the next test finds the row: `assert 1 == 0`",
            "savepoint_leak_sqlite/wrong",
            "savepoint_leak_sqlite/fixed",
            ("*assert 1 == 0",),
            {"passed": 1, "failed": 1},
            postgres=False,
        ),
        Pitfall(
            "alembic-in-the-loop",
            "Alembic's async env.py run inside the test's loop; asyncio.to_thread on trio",
            "`asyncio.run() cannot be called from a running event loop`; on trio `no running event loop`",
            "alembic_in_the_loop/wrong",
            "alembic_in_the_loop/fixed",
            (
                "*RuntimeError: asyncio.run() cannot be called from a running event loop",
                "*RuntimeError: no running event loop",
            ),
            {"failed": 2},
            postgres=False,
        ),
        Pitfall(
            "asgi-transport-without-lifespan",
            "httpx.ASGITransport alone: the app's lifespan never runs",
            "`AttributeError: 'State' object has no attribute 'sessionmaker'`",
            "asgi_transport_without_lifespan/wrong",
            "asgi_transport_without_lifespan/fixed",
            ("*AttributeError: 'State' object has no attribute 'sessionmaker'",),
            {"failed": 1},
            postgres=False,
        ),
        Pitfall(
            "dependency-overrides-leak",
            "app.dependency_overrides not restored: an override leaks into the next test",
            "a later anonymous write gets past auth: `assert 404 == 401`",
            "dependency_overrides_leak/wrong",
            "dependency_overrides_leak/fixed",
            ("*assert 404 == 401",),
            {"passed": 1, "failed": 1},
            postgres=False,
        ),
        Pitfall(
            "pool-pre-ping-is-not-the-fix",
            "pool_pre_ping=True on the function-scoped-loop setup: the ping itself fails",
            "the ping fails (`in do_ping ... attached to a different loop`, `Event loop is closed`)",
            "pool_pre_ping/wrong",
            "function_scoped_loop/fixed",
            # The ping runs on the new loop and fails the same way; that invalidates the connection
            # (closing it on its dead loop logs `Event loop is closed`), so the next test gets a
            # fresh one: the suite now fails every other test.
            ("*, in do_ping", DIFFERENT_LOOP, "*RuntimeError: Event loop is closed"),
            {"passed": 2, "failed": 1},
        ),
        Pitfall(
            "loop-guard-message",
            "The function-scoped-loop setup with testsupport's loop guard: a readable error",
            "`LoopMismatchError: Engine for ... was used from event loop ...` naming the fix",
            "loop_guard_message/wrong",
            "loop_guard_message/fixed",
            (LOOP_GUARD_MESSAGE,),
            {"passed": 2, "failed": 1},
        ),
        Pitfall(
            "app-own-session",
            "A test whose requests reach the app's own sessions instead of the test's connection",
            "`AppSessionUsedError: A request opened a database session while no test had bound ...`",
            "app_own_session/wrong",
            "app_own_session/fixed",
            (
                "*AppSessionUsedError: A request opened a database session while no test had bound the "
                "app's sessions to its connection.*",
            ),
            {"failed": 1},
            postgres=False,
            testsupport=True,
        ),
        Pitfall(
            "app-own-engine-from-settings",
            "The app's own engine from settings: a module-global engine built at import from DATABASE_URL",
            "without testsupport a test writes into the database DATABASE_URL names; with it: `DatabaseBlockedError`",
            "app_own_engine_from_settings/wrong",
            "app_own_engine_from_settings/fixed",
            (
                "*DatabaseBlockedError: wrong/test_app_own_engine_from_settings.py::test_create_user did not ask "
                "for the database, but it used the engine for sqlite+aiosqlite:///*/settings.db, created at "
                "settingsapp.py:* (<module>) (at settingsapp.py:* (create_user), during *). * Fix: request `client` "
                "or `app`*",
            ),
            {"failed": 1},
            postgres=False,
            testsupport=True,
            select=("-k", "not postgres and not mariadb"),  # the wrong test has no database parameter
            settings_database=(
                "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(100))",
                "INSERT INTO users (email, name) VALUES ('you@example.com', 'Your own row')",
            ),
            settings_rows="SELECT email, name FROM users ORDER BY id",
        ),
    )
}
