"""The run's one PostgreSQL server: the user's or the embedded one, started (or checked) once for all
xdist workers (``serverrun.shared``), reported and stopped by the controlling process at the end."""

from __future__ import annotations

from typing import Any

from testsupport.pg.embedded import start_embedded
from testsupport.pg.runstate import end_run, ignore_errors, info_path, read_json, release_children, reuse
from testsupport.pg.server import Server
from testsupport.pg.userserver import URL_ENV, external_server, start_holder, sweep_dead_runs, user_server
from testsupport.serverrun.shared import Target, stop_servers, swept

POSTGRES = Target(
    info_path=info_path,  # the template's name is kept there too (pg.template)
    url_env=URL_ENV,
    external_server=external_server,
    user_server=user_server,
    start_holder=start_holder,
    sweep_dead_runs=sweep_dead_runs,
    start_embedded=lambda: start_embedded(reuse()),
    connect=Server,
)


def shared_server() -> tuple[Server, dict[str, Any]]:
    """The run's server, started (or checked) once for all xdist workers."""
    return POSTGRES.shared_server()


def finish_run() -> None:
    """Called in pytest_sessionfinish of the controlling process: stop the server, drop the
    template, remove the run's folder."""
    info = read_json(info_path())
    if info.get("template") and not reuse():
        ignore_errors(lambda: POSTGRES.server(info).drop_database(info["template"]))
    stop_servers(info)
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
        source = f"PostgreSQL from {URL_ENV}{swept(info)}"
    else:
        kept = ", kept cluster" if info.get("kept_cluster") else ""
        source = f"embedded PostgreSQL started in {info['start_seconds'] * 1000:.0f} ms{kept}"
    source += "".join(f"; {note}" for note in info.get("notes", []))
    if "template_seconds" not in info:
        return source
    verb = "reused" if info.get("template_reused") else built
    return f"{source}; template {verb} in {info['template_seconds'] * 1000:.0f} ms"
