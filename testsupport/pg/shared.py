"""The run's one server: the user's or the embedded one, started (or checked) once for all xdist
workers, reported and stopped by the controlling process at the end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from testsupport.pg.embedded import start_embedded, stop_supervisor
from testsupport.pg.runstate import (
    end_run,
    ignore_errors,
    info_path,
    read_json,
    release_children,
    reuse,
    run_lock,
    write_json,
)
from testsupport.pg.server import Server
from testsupport.pg.userserver import (
    URL_ENV,
    external_server,
    start_holder,
    stop_holder,
    sweep_dead_runs,
    user_server,
)


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
                swept = sweep_dead_runs(server)
                # No URL here: it may hold a password. Every process reads it from the environment.
                info = {"external": True, "holder_pid": holder_pid, "swept": swept}
            else:
                info = start_embedded(reuse())
            write_json(info_path(state), info)
    return _server(info), info


def _server(info: dict[str, Any]) -> Server:
    return user_server() if info.get("external") else Server(make_url(info["admin_url"]))


def finish_run() -> None:
    """Called in pytest_sessionfinish of the controlling process: stop the server, drop the
    template, remove the run's folder."""
    info = read_json(info_path())
    if info.get("template") and not reuse():
        ignore_errors(lambda: _server(info).drop_database(info["template"]))
    if info.get("holder_pid"):
        stop_holder(int(info["holder_pid"]))
    if info.get("supervisor_pid"):
        stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))
    end_run()


def leave_run() -> None:
    """Called in pytest_sessionfinish of an xdist worker: the server and lock holder it may have
    started stay up for the other workers; the controller stops them (finish_run)."""
    release_children()


def run_report(built: str = "migrated") -> str:
    """One line on this run's PostgreSQL: where it came from and what its start cost; ``built``:
    how its template got the schema (the caller knows: Alembic, or create_all)."""
    info = read_json(info_path())
    if not info:
        return ""
    if info.get("external"):
        source = f"PostgreSQL from {URL_ENV}"
        swept = info.get("swept") or {}
        if swept.get("dropped"):
            source += f" (dropped {len(swept['dropped'])} databases left by {swept['runs']} killed runs)"
    else:
        kept = ", kept cluster" if info.get("kept_cluster") else ""
        source = f"embedded PostgreSQL started in {info['start_seconds'] * 1000:.0f} ms{kept}"
    source += "".join(f"; {note}" for note in info.get("notes", []))
    if "template_seconds" not in info:
        return source
    verb = "reused" if info.get("template_reused") else built
    return f"{source}; template {verb} in {info['template_seconds'] * 1000:.0f} ms"
