"""The run's one server: the user's or the embedded one, started (or checked) once for all xdist
workers, reported and stopped by the controlling process at the end."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from testsupport.pg.embedded import start_embedded, stop_supervisor
from testsupport.pg.runstate import ignore_errors, read_json, reuse, run_lock, state_path, write_json
from testsupport.pg.server import Server
from testsupport.pg.userserver import URL_ENV, external_server


def shared_server() -> tuple[Server, dict[str, Any]]:
    """The run's server, started (or checked) once for all xdist workers."""
    with run_lock() as state:
        info = read_json(state / "server.json")
        if not info:
            raw = os.environ.get(URL_ENV)
            if raw:
                server = external_server(raw)
                info = {"admin_url": server.admin_url.render_as_string(hide_password=False), "external": True}
            else:
                info = start_embedded(reuse())
            write_json(state / "server.json", info)
    return Server(make_url(info["admin_url"])), info


def finish_run() -> None:
    """Called in pytest_sessionfinish of the controlling process: stop the server, drop the
    template, remove the run's folder."""
    state = state_path()
    if not state.exists():
        return
    info = read_json(state / "server.json")
    if info.get("template") and not reuse():
        ignore_errors(lambda: Server(make_url(info["admin_url"])).drop_database(info["template"]))
    if info.get("supervisor_pid"):
        stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))
    shutil.rmtree(state, ignore_errors=True)


def run_report() -> str:
    """One line on this run's PostgreSQL: where it came from and what its start cost."""
    info = read_json(state_path() / "server.json")
    if not info:
        return ""
    if info.get("external"):
        source = f"PostgreSQL from {URL_ENV}"
    else:
        kept = ", kept cluster" if info.get("kept_cluster") else ""
        source = f"embedded PostgreSQL started in {info['start_seconds'] * 1000:.0f} ms{kept}"
    if "template_seconds" not in info:
        return source
    verb = "reused" if info.get("template_reused") else "migrated"
    return f"{source}; template {verb} in {info['template_seconds'] * 1000:.0f} ms"
