"""The run's one server of a target, the user's or a throwaway one: started (or checked) once for all
xdist workers, found again by every process of the run, stopped by the controlling process at the
end. A target (``pg.shared``, ``maria.shared``) says how (``Target``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import URL, make_url

from testsupport.pg.runstate import read_json, run_lock, write_json
from testsupport.serverrun.embedded import stop_supervisor
from testsupport.serverrun.userserver import stop_holder

S = TypeVar("S")


@dataclass(frozen=True)
class Target(Generic[S]):
    info_path: Callable[[Path | None], Path]  # in the run's folder: where its server is (no password)
    url_env: str  # the user's server
    external_server: Callable[[str], S]  # the user's URL checked, creating nothing
    user_server: Callable[[], S]  # the user's server again, its URL read from the environment
    start_holder: Callable[[S], int]  # the process holding the run's lock on the user's server
    sweep_dead_runs: Callable[[S], dict[str, Any]]  # what killed runs left there, dropped
    start_embedded: Callable[[], dict[str, Any]]  # a throwaway server started
    connect: Callable[[URL], S]  # the throwaway server from its admin URL

    def read_info(self) -> dict[str, Any]:
        return read_json(self.info_path(None))

    def shared_server(self) -> tuple[S, dict[str, Any]]:
        """The run's server, started (or checked) once for all xdist workers. On the user's server,
        this run's lock is taken before it creates anything, and what dead runs left is dropped."""
        with run_lock() as state:
            info = read_json(self.info_path(state))
            if not info:
                raw = os.environ.get(self.url_env)
                if raw:
                    server = self.external_server(raw)
                    holder_pid = self.start_holder(server)
                    swept = self.sweep_dead_runs(server)
                    # No URL here: it may hold a password. Every process reads it from the environment.
                    info = {"external": True, "holder_pid": holder_pid, "swept": swept}
                else:
                    info = self.start_embedded()
                write_json(self.info_path(state), info)
        return self.server(info), info

    def server(self, info: dict[str, Any]) -> S:
        return self.user_server() if info.get("external") else self.connect(make_url(info["admin_url"]))


def stop_servers(info: dict[str, Any]) -> None:
    """At the run's end, in the controlling process: let go of the user's server, or stop the
    throwaway one."""
    if info.get("holder_pid"):
        stop_holder(int(info["holder_pid"]))
    if info.get("supervisor_pid"):
        stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))


def swept(info: dict[str, Any]) -> str:
    """What this run dropped of killed runs on the user's server, for its summary line."""
    found = info.get("swept") or {}
    if not found.get("dropped"):
        return ""
    return f" (dropped {len(found['dropped'])} databases left by {found['runs']} killed runs)"
