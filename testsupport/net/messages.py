"""The net's errors and the fixes its messages name."""

from __future__ import annotations


class NetError(RuntimeError):
    """Base of the safety net's errors."""


class ForeignEngineError(NetError):
    """A database test (or the migrations) used an engine other than the test's."""


class DatabaseBlockedError(NetError):
    """Code outside a test that asked for the database used one."""


class TestEngineMisuseError(NetError):
    """The test engine or the test's outer transaction was used in a way that would leak rows."""

    __test__ = False  # not a test class, whatever its name


FIX_CONFIGURATION = (
    "hand the app the test's sessions: set testsupport_sessionmaker to the async_sessionmaker its handlers "
    "use (a module-global one is rebound to each test's connection), or have the factory named by "
    "testsupport_app use the `sessionmaker=` / `engine=` it is given instead of building its own from "
    "settings, at import time or in its lifespan"
)
FIX_OWN_ENGINE = (
    "this test built that engine itself (or a function it called did): write through `db_session` or "
    "`db_connection`, which are on the test's database inside its transaction"
)
USE_DATABASE = (
    "request `client` or `app` (the app on the test's database), or `db_session` / `db_connection`: the test "
    "then runs on each database target inside a transaction rolled back at teardown. For real commits add "
    "`@pytest.mark.db(transaction=True)` (the database restored after the test)"
)
REAL_COMMITS = (
    "use `db_session` / `db_connection` (the test's transaction), or mark the test "
    "`@pytest.mark.db(transaction=True)` for real connections and commits, with the database restored afterwards"
)
OUTSIDE = (
    "write test data through `db_session` in a function-scoped fixture or the test (it is rolled back); "
    "stop background work (threads, tasks a lifespan starts) before the app's lifespan ends; if this code "
    "must reach a database of its own outside the tests' (a fixture that checks an external service), wrap "
    "just that code in `with testsupport.allow_other_engines():`"
)
OUTER_TRANSACTION = (
    "the test's outer transaction belongs to testsupport, which rolls it back at teardown. A COMMIT would "
    "leave the test's rows in the database for every later test; after a ROLLBACK the test's later writes "
    "would run outside any transaction and be committed. Fix: commit and roll back through a session "
    "(`db_session.commit()` is a savepoint release), or mark the test `@pytest.mark.db(transaction=True)` for "
    "real commits, with the database restored afterwards"
)
MIGRATIONS = (
    "make env.py run the migrations on the connection testsupport hands it, and build an engine from "
    "sqlalchemy.url only when there is none: `connection = config.attributes.get('connection')`; if it is "
    "not None, `context.configure(connection=connection, target_metadata=...)` and "
    "`with context.begin_transaction(): context.run_migrations()`"
)
SYNC_TEST = (
    "{test} is a plain `def` test and called a coroutine method of `{fixture}` without awaiting it ({warning}): "
    "a sync test cannot await, so that statement never ran. Fix: make it `async def` and `await` the calls "
    "(anyio runs it on the session's loop)."
)
STALE_ENGINE = (
    "It was created before testsupport was configured, by a conftest.py, a `-p` plugin or a module they "
    "import: if that is an old conftest.py that builds the app's engine, delete that code (testsupport's "
    "`engine` fixture and the app's sessionmaker rebound per test replace it)."
)
