"""The run's one MariaDB server: the user's or a throwaway one, started (or checked) once for all
xdist workers, reported and stopped by the controlling process at the end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from testsupport.maria.embedded import start_embedded, stop_supervisor
from testsupport.maria.server import Server
from testsupport.maria.userserver import (
    URL_ENV,
    external_server,
    start_holder,
    stop_holder,
    sweep_dead_runs,
    user_server,
)
from testsupport.pg.runstate import read_json, reuse, run_lock, state_path, write_json


def info_path(state: Path | None = None) -> Path:
    """The run's mariadb.json: where its server is (beside PostgreSQL's server.json)."""
    return (state or state_path()) / "mariadb.json"


def shared_server() -> tuple[Server, dict[str, Any]]:
    """The run's server, started (or checked) once for all xdist workers. On the user's server,
    this run's lock is taken before it creates anything, and what dead runs left is dropped."""
    with run_lock() as state:
        info = read_json(info_path(state))
        if not info:
            raw = os.environ.get(URL_ENV)
            if raw:
                server = external_server(raw)
                holder_pid = start_holder(server)
                # No URL here: it may hold a password. Every process reads it from the environment.
                info = {"external": True, "holder_pid": holder_pid, "swept": sweep_dead_runs(server)}
            else:
                info = start_embedded()
            write_json(info_path(state), info)
    return _server(info), info


def _server(info: dict[str, Any]) -> Server:
    return user_server() if info.get("external") else Server(make_url(info["admin_url"]))


def finish_run() -> None:
    """Called in pytest_sessionfinish of the controlling process (before PostgreSQL's, which
    removes the run's folder): stop the throwaway server, or let go of the user's."""
    info = read_json(info_path())
    if info.get("holder_pid"):
        stop_holder(int(info["holder_pid"]))
    if info.get("supervisor_pid"):
        stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))


def run_report() -> str:
    """One line on this run's MariaDB: where it came from and what its start cost."""
    info = read_json(info_path())
    if not info:
        return ""
    # Nothing is kept for MariaDB: the server starts in about a second and has no template
    # databases to keep (each worker's database is migrated: docs/servers.md, "MariaDB and MySQL").
    kept = "; --reuse-db keeps nothing of MariaDB's" if reuse() else ""
    if not info.get("external"):
        return f"throwaway MariaDB started in {info['start_seconds'] * 1000:.0f} ms{kept}"
    swept = info.get("swept") or {}
    dropped = (
        f" (dropped {len(swept['dropped'])} databases left by {swept['runs']} killed runs)"
        if swept.get("dropped")
        else ""
    )
    return f"MariaDB from {URL_ENV}{dropped}{kept}"
