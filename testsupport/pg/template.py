"""The run's template database: migrated once, cloned by every session (xdist worker)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from testsupport.pg.holder import comment_sql, runs_databases
from testsupport.pg.runstate import info_path, read_json, reuse, run_id, run_lock, write_json
from testsupport.pg.server import Server
from testsupport.pg.userserver import owner_comment
from testsupport.serverrun.admin import in_thread

if TYPE_CHECKING:  # imported where it connects
    import asyncpg

Migrate = Callable[[Connection], None]
KEPT_PREFIX = "test_template_"
KEEP_TEMPLATES = 3  # kept templates per server (one per project and version of its migrations)
_READABLE = re.compile(r"[a-z0-9_]{1,32}")


def kept_template_name(fingerprint: str) -> str:
    """The --reuse-db template's name. PostgreSQL cuts names at 63 bytes (silently, with a NOTICE),
    so a fingerprint longer than a short readable one is hashed down: any length fits, and two
    fingerprints never share a template unless they are equal."""
    if _READABLE.fullmatch(fingerprint):
        return KEPT_PREFIX + fingerprint
    return KEPT_PREFIX + "h" + hashlib.sha256(fingerprint.encode()).hexdigest()[:40]


def migrate_template(url: str, migrate: Migrate) -> None:
    async def go() -> None:
        # A plain engine: PostgreSQL needs none of the app's dialect fixes, and the template is
        # only migrated here, never tested.
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        finally:
            await engine.dispose()  # a template with a session connected cannot be cloned

    in_thread(lambda: asyncio.run(go()))


def migrated_template(server: Server, migrate: Migrate, fingerprint: str = "") -> str:
    """The run's template database, migrated once for all xdist workers. With --reuse-db it is
    named after the migrations' fingerprint and kept: the next run with the same migrations clones
    it at once, a run with changed migrations (or another project) builds its own, and the
    ``KEEP_TEMPLATES`` most recently used are kept."""
    with run_lock() as state:
        info = read_json(info_path(state))
        if not info.get("template"):
            started = time.perf_counter()
            if reuse():
                name, reused = kept_template(server, migrate, fingerprint, info)
                info.update(template_reused=reused)
            else:
                name = f"test_{run_id()}_template"
                then = (owner_comment(server, name),) if info.get("external") else ()
                migrate_template(server.create_database(name, then=then), migrate)
            info.update(template=name, template_seconds=round(time.perf_counter() - started, 3))
            write_json(info_path(state), info)
    template: str = info["template"]
    return template


KEPT_TEMPLATES = """
SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE 'test\\_template\\_%'
"""


def kept_template(server: Server, migrate: Migrate, fingerprint: str, info: dict[str, Any]) -> tuple[str, bool]:
    """The kept template for ``fingerprint`` (migrated now if there is none), and whether it was
    there already. It is built under this run's own name (a run killed while migrating leaves a
    database the next run sweeps) and renamed when done, so no run ever clones a half-migrated
    one. Its COMMENT says when a run last used it; beyond ``KEEP_TEMPLATES`` the least recently
    used go (each project, or each version of the migrations, has its own)."""
    import asyncpg

    name = kept_template_name(fingerprint or "unknown")
    existing = server.databases()
    if info.get("kept_cluster"):  # the run has the kept cluster to itself: what killed runs left goes
        for run, names in runs_databases(existing).items():
            if run != run_id():
                for stale in names:
                    server.drop_database(stale)
    reused = name in existing
    if not reused:
        building = f"test_{run_id()}_template"
        then = (owner_comment(server, building),) if info.get("external") else ()
        migrate_template(server.create_database(building, then=then), migrate)
        try:
            server.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        except asyncpg.DuplicateDatabaseError:  # another run built it meanwhile: use that one
            server.drop_database(building)
            reused = True
    server.run(lambda conn: _mark_used_and_prune(conn, name, fingerprint))  # one connection
    return name, reused


def _last_used(comment: str | None) -> float:
    try:
        return float(json.loads(comment or "")["used"])
    except (ValueError, KeyError, TypeError):
        return 0.0  # kept by a version that did not record it: the first to go


async def _mark_used_and_prune(conn: asyncpg.Connection, name: str, fingerprint: str) -> None:
    """Record that ``name`` was used now; drop the least recently used beyond the bound."""
    import asyncpg

    await conn.execute(comment_sql(name, {"testsupport_kept": fingerprint, "used": time.time()}))
    rows = sorted(await conn.fetch(KEPT_TEMPLATES), key=lambda row: _last_used(row[1]), reverse=True)
    for other, _ in [row for row in rows if row[0] != name][KEEP_TEMPLATES - 1 :]:
        with contextlib.suppress(asyncpg.PostgresError):  # being cloned right now: next time
            await conn.execute(f'DROP DATABASE IF EXISTS "{other}"')
