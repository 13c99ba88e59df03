"""The project's Alembic configuration (``testsupport_alembic_config``): read and checked at
start-up, and run on the connection testsupport hands the project's own ``env.py``."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

KEY = "testsupport_alembic_config"

USE_THE_CONNECTION = """\
Fix: make env.py use the connection it is handed (Alembic cookbook, "Sharing a Connection across one
or more programmatic migration commands"):

    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)  # context.configure(connection=connection, ...); run_migrations()
    else:
        asyncio.run(run_async_migrations())  # the sync template: its engine_from_config(...) block
"""
ENV_PY_FIX = (
    "Alembic's env.py called asyncio.run() inside the tests' event loop; testsupport runs the migrations\n"
    "on its own connection, in that loop.\n" + USE_THE_CONNECTION
)


class MigrationsInLoopError(RuntimeError):
    """Alembic's env.py tried to start an event loop of its own inside the tests' loop
    (asyncio.run, or run_coroutine_threadsafe onto it)."""


class MigrationsElsewhereError(RuntimeError):
    """Alembic's env.py migrated a database of its own, not the connection it was handed."""


THREADSAFE_FIX = (
    "Alembic's env.py called asyncio.run_coroutine_threadsafe(...) on the tests' running loop from that\n"
    "loop's own thread: .result() would block the loop until its timeout, and the migration would never\n"
    "run. testsupport runs the migrations on its own connection, in that loop.\n" + USE_THE_CONNECTION
)


@contextmanager
def own_loops_refused() -> Iterator[None]:
    """While env.py runs (on the loop's thread, in SQLAlchemy's greenlet): an event loop of its own
    is refused at once with the fix, not after a timeout. asyncio.run() refuses by itself;
    run_coroutine_threadsafe onto the running loop would block the loop until ``.result(timeout)``
    ends in a bare TimeoutError (the loop cannot run the coroutine while it waits for it)."""
    original = asyncio.run_coroutine_threadsafe

    def threadsafe(coro: Any, loop: asyncio.AbstractEventLoop) -> Any:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running:
            coro.close()  # never started: closed, it does not warn "never awaited"
            raise MigrationsInLoopError(THREADSAFE_FIX)
        return original(coro, loop)

    asyncio.run_coroutine_threadsafe = threadsafe
    try:
        yield
    except RuntimeError as exc:
        if "cannot be called from a running event loop" in str(exc):
            close_refused_coroutine(exc)
            raise MigrationsInLoopError(ENV_PY_FIX) from exc
        raise
    finally:
        asyncio.run_coroutine_threadsafe = original


def close_refused_coroutine(exc: BaseException) -> None:
    """asyncio.run() (or Runner.run) refused env.py's coroutine without starting it. Closed, it does
    not warn "never awaited" when collected: an unraisable warning, which filterwarnings = error made
    a 70-line ExceptionGroup traceback at the end of the run."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncio"):
        return
    for value in tb.tb_frame.f_locals.values():
        if inspect.iscoroutine(value) and inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
            value.close()


@contextmanager
def wrong_env_py_stops_the_run(session: pytest.Session) -> Iterator[None]:
    """Around each run of env.py for the tests (the schema, migration_runner). An env.py that does
    not migrate the connection it is handed fails every such test the same way: the first errors
    with the message (its fix, no traceback) and the run stops after it, as -x stops it (an xdist
    worker stops too, and its controller ends the run)."""
    __tracebackhide__ = True
    from testsupport.net.messages import ForeignEngineError

    try:
        yield
    except (MigrationsInLoopError, MigrationsElsewhereError, ForeignEngineError) as exc:
        session.shouldstop = (
            "Alembic's env.py cannot migrate the tests' databases (the error above): every test that needs the "
            "schema would fail the same way"
        )
        # from None: the message is the whole report (the net still finds its refusal as the context).
        raise pytest.fail.Exception(f"{type(exc).__name__}: {exc}", pytrace=False) from None


def refusal(value: str, problem: str, fix: str) -> pytest.UsageError:
    """The start-up error for this key, worded as testsupport.config words every key's."""
    return pytest.UsageError(f"{KEY} = {value!r}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class AlembicSource:
    """The project's Alembic configuration and what identifies its migrations."""

    path: Path
    script_dir: Path
    heads: tuple[str, ...]
    rootdir: Path

    def config(self) -> Any:
        from alembic.config import Config

        if self.path.suffix == ".toml":
            return Config(toml_file=self.path)  # [tool.alembic], Alembic >= 1.16
        return Config(file_=self.path)

    def fingerprint(self) -> str:
        """A hash of every file of the migrations folder: --reuse-db keeps one template per value."""
        digest = hashlib.sha256()
        for path in sorted(self.script_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(self.script_dir).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def run(self, connection: Connection, name: str, *args: str) -> None:
        """``alembic <name> <args>`` (upgrade, downgrade, ensure_version) through the project's env.py,
        on this sync connection, in the caller's transaction and loop."""
        from alembic import command

        config = self.config()
        config.attributes["connection"] = connection
        with own_loops_refused():
            getattr(command, name)(config, *args)

    def upgrade(self, connection: Connection) -> None:
        """``alembic upgrade heads`` on this sync connection: the tests' schema. Several heads are a
        start-up error unless the migration checks are on (their head check then names them)."""
        from alembic.runtime.migration import MigrationContext

        self.run(connection, "upgrade", "heads")
        # Alembic's sync template ignores the connection and migrates sqlalchemy.url instead.
        reached = MigrationContext.configure(connection).get_current_heads()
        if set(reached) != set(self.heads):
            url = self.config().get_main_option("sqlalchemy.url") or "the URL it builds its engine from"
            raise MigrationsElsewhereError(
                f"Alembic's env.py did not migrate the connection testsupport handed it: after `upgrade head` "
                f"the test database is at {', '.join(reached) or 'no revision'}, not {', '.join(self.heads)}. "
                f"It built an engine of its own, so the migrations ran on {url} instead.\n" + USE_THE_CONNECTION
            )

    def differences(self, connection: Connection, metadata: MetaData | None) -> list[Any]:
        """Autogenerate's comparison of the database on this connection with ``metadata`` (env.py's
        ``target_metadata`` when None), made with the options env.py passes to
        ``context.configure`` (compare_type, include_object, ...): env.py runs as for any command,
        and the comparison is made where the migrations would run."""
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.environment import EnvironmentContext
        from alembic.script import ScriptDirectory

        config = self.config()
        config.attributes["connection"] = connection
        script = ScriptDirectory.from_config(config)
        found: list[Any] = []

        def compare(_heads: Any, context: Any) -> list[Any]:
            target = metadata if metadata is not None else context.opts.get("target_metadata")
            if target is None:
                raise pytest.UsageError(
                    "the migration checks compare the schema with the models, but neither testsupport_metadata "
                    "nor env.py's target_metadata names them. Fix: testsupport_metadata = "
                    "'pkg.models:Base.metadata' in [tool.pytest.ini_options]"
                )
            found.extend(compare_metadata(context, target))
            return []  # no migration to run: this is what `alembic check` does, without the file

        with own_loops_refused(), EnvironmentContext(config, script, fn=compare):
            script.run_env()
        return found

    def autogenerate_command(self) -> str:
        """The command that writes the revision the models miss, run from the rootdir."""
        where = (
            "" if self.path == self.rootdir / "pyproject.toml" else f" -c {os.path.relpath(self.path, self.rootdir)}"
        )
        return f'alembic{where} revision --autogenerate -m "describe the change"'


def alembic_source(value: str, rootdir: Path, checked: bool = False) -> AlembicSource:
    """Read and check the key. Several heads stop the run here unless the migration checks are on
    (``checked``): their head check then fails naming them, and the tests run on ``upgrade heads``."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    path = (rootdir / value).resolve()
    if not path.is_file():
        problem = f"{path} is a directory" if path.is_dir() else f"{path} does not exist"
        raise refusal(value, problem, "give the path of alembic.ini or pyproject.toml, not of the migrations")
    source = AlembicSource(path, path, (), rootdir)
    try:
        script = ScriptDirectory.from_config(source.config())
        heads = tuple(script.get_heads())
    except CommandError as exc:
        raise refusal(value, f"Alembic cannot read it ({exc})", "fix what Alembic names") from None
    except Exception as exc:  # noqa: BLE001 - a revision file that fails to import is a configuration error
        raise refusal(
            value, f"loading the migrations raised {type(exc).__name__}: {exc}", "fix that revision file"
        ) from None
    if not heads:
        raise refusal(
            value,
            f"the migrations folder {script.dir} has no revisions",
            "create one (`alembic revision --autogenerate -m initial`), or remove testsupport_alembic_config "
            "and set testsupport_metadata to build the schema with create_all",
        )
    if len(heads) > 1 and not checked:
        raise refusal(
            value,
            f"the migrations have several heads {sorted(heads)}",
            'merge them (`alembic merge -m "merge heads" heads`)',
        )
    return AlembicSource(path, Path(script.dir), heads, rootdir)
