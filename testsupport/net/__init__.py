"""The safety net: nothing a test run does reaches a database outside the test's transaction.

Installed once per session (``install``, from the plugin's pytest_configure, before the project's
modules are imported) until the session ends, it watches every SQLAlchemy engine in the process,
also those testsupport never handed out (an app's module-global engine, one its lifespan builds
from settings, one a conftest.py built before testsupport loaded):

- ``do_connect`` on the ``Engine`` class: before any engine opens a DBAPI connection, so a refused
  engine never connects;
- ``checkout`` on the ``Pool`` class: every checkout, also of a connection pooled before the net
  was installed;
- the dialect's ``engine_created`` hook records each engine's URL (password hidden) and the code
  that created it, for the messages.

What it refuses (``state.Net.check``, on what ``record.Record`` holds):
- in a test that uses testsupport's database (``db_connection``, hence ``db_session``, ``app``,
  ``client``): any other engine (``ForeignEngineError``); in savepoint mode a second checkout of
  the test engine, and every way to end the test's outer transaction (``TestEngineMisuseError``,
  ``connection.py``);
- in a test that did not ask for a database: any engine it did not create itself
  (``DatabaseBlockedError``, pytest-django's blocker);
- everywhere else (import, collection, wider-scoped fixtures' set-up and teardown, between tests,
  threads and tasks while no database test runs): any engine but testsupport's own fixtures'
  (``DatabaseBlockedError``), unless inside ``allow_other_engines()``; the test engine outside a
  test's transaction (``TestEngineMisuseError``);
- while the schema is built: any engine but the one the migrations were handed (``migrating``).
Each refusal is raised where it happens and kept: one that no test reported (raised in another
thread or task, or caught) fails that test's phase, or the session (``hooks.py``).
A test that requests ``database`` but not ``db_connection`` (the migration checks, an app built
on an unreachable database) manages its own engines and is not watched.
The net watches SQLAlchemy only: a raw driver connection (``sqlite3.connect``, ``asyncpg.connect``)
is not seen.
"""

from testsupport.net.connection import TestConnection, app_bind, test_connection
from testsupport.net.hooks import PLAN, NetPlugin, plan, real_commits
from testsupport.net.install import install, install_listeners, uninstall
from testsupport.net.messages import DatabaseBlockedError, ForeignEngineError, NetError, TestEngineMisuseError
from testsupport.net.record import Mode
from testsupport.net.state import NET, Net, allow_other_engines, migrating

__all__ = [
    "NET",
    "PLAN",
    "DatabaseBlockedError",
    "ForeignEngineError",
    "Mode",
    "Net",
    "NetError",
    "NetPlugin",
    "TestConnection",
    "TestEngineMisuseError",
    "allow_other_engines",
    "app_bind",
    "install",
    "install_listeners",
    "migrating",
    "plan",
    "real_commits",
    "test_connection",
    "uninstall",
]
