"""The project's Alembic configuration (``testsupport_alembic_config``): read and checked at
start-up, and run on the connection testsupport hands the project's own ``env.py``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
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
    """Alembic's env.py tried to start an event loop of its own inside the tests' loop."""


class MigrationsElsewhereError(RuntimeError):
    """Alembic's env.py migrated a database of its own, not the connection it was handed."""


def refusal(value: str, problem: str, fix: str) -> pytest.UsageError:
    """The start-up error for this key, worded as testsupport.config words every key's."""
    return pytest.UsageError(f"{KEY} = {value!r}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class AlembicSource:
    """The project's Alembic configuration and what identifies its migrations."""

    path: Path
    script_dir: Path
    heads: tuple[str, ...]

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

    def upgrade(self, connection: Connection) -> None:
        """``alembic upgrade head`` on this sync connection, in the caller's transaction and loop."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = self.config()
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except RuntimeError as exc:
            if "cannot be called from a running event loop" in str(exc):
                raise MigrationsInLoopError(ENV_PY_FIX) from exc
            raise
        # Alembic's sync template ignores the connection and migrates sqlalchemy.url instead.
        reached = MigrationContext.configure(connection).get_current_heads()
        if set(reached) != set(self.heads):
            url = config.get_main_option("sqlalchemy.url") or "the URL it builds its engine from"
            raise MigrationsElsewhereError(
                f"Alembic's env.py did not migrate the connection testsupport handed it: after `upgrade head` "
                f"the test database is at {', '.join(reached) or 'no revision'}, not {', '.join(self.heads)}. "
                f"It built an engine of its own, so the migrations ran on {url} instead.\n" + USE_THE_CONNECTION
            )


def alembic_source(value: str, rootdir: Path) -> AlembicSource:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    path = (rootdir / value).resolve()
    if not path.is_file():
        problem = f"{path} is a directory" if path.is_dir() else f"{path} does not exist"
        raise refusal(value, problem, "give the path of alembic.ini or pyproject.toml, not of the migrations")
    source = AlembicSource(path, path, ())
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
    if len(heads) > 1:
        raise refusal(value, f"the migrations have several heads {sorted(heads)}", "merge them (`alembic merge heads`)")
    return AlembicSource(path, Path(script.dir), heads)
