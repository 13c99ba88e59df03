"""The run's one MariaDB server: the user's or a throwaway one, started (or checked) once for all
xdist workers (``serverrun.shared``), reported and stopped by the controlling process at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testsupport.maria.embedded import start_embedded
from testsupport.maria.server import Server
from testsupport.maria.userserver import URL_ENV, external_server, start_holder, sweep_dead_runs, user_server
from testsupport.pg.runstate import reuse, state_path
from testsupport.serverrun.shared import Target, stop_servers, swept


def info_path(state: Path | None = None) -> Path:
    """The run's mariadb.json: where its server is (beside PostgreSQL's server.json)."""
    return (state or state_path()) / "mariadb.json"


MARIADB = Target(
    info_path=info_path,
    url_env=URL_ENV,
    external_server=external_server,
    user_server=user_server,
    start_holder=start_holder,
    sweep_dead_runs=sweep_dead_runs,
    start_embedded=start_embedded,
    connect=Server,
)


def shared_server() -> tuple[Server, dict[str, Any]]:
    """The run's server, started (or checked) once for all xdist workers."""
    return MARIADB.shared_server()


def finish_run() -> None:
    """Called in pytest_sessionfinish of the controlling process (before PostgreSQL's, which
    removes the run's folder): stop the throwaway server, or let go of the user's."""
    stop_servers(MARIADB.read_info())


def run_report() -> str:
    """One line on this run's MariaDB: where it came from and what its start cost."""
    info = MARIADB.read_info()
    if not info:
        return ""
    # Nothing is kept for MariaDB: the server starts in about a second and has no template
    # databases to keep (each worker's database is migrated: docs/servers.md, "MariaDB and MySQL").
    kept = "; --reuse-db keeps nothing of MariaDB's" if reuse() else ""
    if not info.get("external"):
        return f"throwaway MariaDB started in {info['start_seconds'] * 1000:.0f} ms{kept}"
    return f"MariaDB from {URL_ENV}{swept(info)}{kept}"
