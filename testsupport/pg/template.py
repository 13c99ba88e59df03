"""The run's template database: migrated once, cloned by every session (xdist worker)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from testsupport.pg.runstate import info_path, read_json, reuse, run_id, run_lock, write_json
from testsupport.pg.server import Server, in_thread
from testsupport.pg.userserver import owner_comment

Migrate = Callable[[Connection], None]
KEPT_PREFIX = "test_template_"
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
    it at once, a run with changed migrations builds its own."""
    with run_lock() as state:
        info = read_json(info_path(state))
        if not info.get("template"):
            started = time.perf_counter()
            if reuse():
                name = kept_template_name(fingerprint or "unknown")
                existing = server.databases()
                if info.get("kept_cluster"):  # this run owns the kept cluster: clear what old runs left
                    for stale in sorted(existing - {name}):
                        if stale.startswith("test_"):
                            server.drop_database(stale)
                reused = name in existing
                if not reused:
                    migrate_template(server.create_database(name), migrate)
                info.update(template_reused=reused)
            else:
                name = f"test_{run_id()}_template"
                then = (owner_comment(server, name),) if info.get("external") else ()
                migrate_template(server.create_database(name, then=then), migrate)
            info.update(template=name, template_seconds=round(time.perf_counter() - started, 3))
            write_json(info_path(state), info)
    template: str = info["template"]
    return template
