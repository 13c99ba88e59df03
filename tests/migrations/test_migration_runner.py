"""What testsupport's migration checks (`testsupport_migration_checks` in pyproject.toml, listed by
`pytest -k migration`) cannot express: the service's own migration entry point, `service.migrate`,
which builds its own engine when no connection is handed to env.py (the CLI, `python -m service
migrate`). The checks always hand env.py their connection."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from service import migrate


async def test_migration_runner_works_from_any_loop(tmp_path: Path, anyio_backend: str) -> None:
    # env.py calls asyncio.run() when it has no shared connection: in a worker thread that is
    # allowed on asyncio and on trio alike (asyncio.to_thread would tie this to asyncio).
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await anyio.to_thread.run_sync(lambda: migrate.upgrade("head", url=url))
    await anyio.to_thread.run_sync(lambda: migrate.downgrade("base", url=url))
    await anyio.to_thread.run_sync(lambda: migrate.upgrade("head", url=url))
