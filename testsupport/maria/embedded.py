"""The throwaway server: ``mariadbd`` (or ``mysqld``, MariaDB's) and ``mariadb-install-db`` from
PATH or /usr/sbin, on a fresh data folder on tmpfs and a private unix socket, started by a
supervisor (``maria.supervisor``) that kills and deletes it when the run ends, however it ends.
Like pytest-mysql's ``mysql_proc``, without a fixed port: the server listens on no TCP port."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import URL

from testsupport.maria import supervisor
from testsupport.maria.errors import MariaDBFailedToStart, MariaDBUnavailable
from testsupport.maria.server import Server
from testsupport.pg.runstate import owner_pid, run_scratch, run_state_dir
from testsupport.serverrun.account import private_folder
from testsupport.serverrun.embedded import own_server, start_supervisor, stop_supervisor, wait_ready

__all__ = ["BINDIR_ENV", "embedded_server", "find_binaries", "start_embedded", "stop_supervisor"]

START_TIMEOUT = 30.0
BINDIR_ENV = "TEST_MARIADB_BINDIR"  # one folder holding both, instead of the search below


def find_binaries() -> tuple[str, str]:
    """The server and its install script, or MariaDBUnavailable naming how to get them."""
    # Debian and Fedora install the server in /usr/sbin or /usr/libexec, often not on a user's PATH.
    search = os.environ.get(BINDIR_ENV) or os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/usr/libexec"]
    )
    server = shutil.which("mariadbd", path=search) or shutil.which("mysqld", path=search)
    install = shutil.which("mariadb-install-db", path=search) or shutil.which("mysql_install_db", path=search)
    if server is None or install is None:
        where = f"{BINDIR_ENV}={os.environ[BINDIR_ENV]}" if os.environ.get(BINDIR_ENV) else "PATH or /usr/sbin"
        raise MariaDBUnavailable(
            f"no MariaDB server binaries (mariadbd and mariadb-install-db in {where}): install "
            "them (Debian/Ubuntu: apt-get install mariadb-server; macOS: brew install mariadb), or set "
            "TEST_MARIADB_URL=mysql://user:password@host:3306/ to a server of yours"
        )
    return server, install


def start_embedded() -> dict[str, Any]:
    """Start a throwaway server for this run (its owner: the pytest process or xdist controller)."""
    started = time.perf_counter()
    owner, state = owner_pid(), run_state_dir()
    server, install = find_binaries()
    # Short path: a unix socket path is limited to 107 bytes.
    # Named after the run, so a killed run's folder goes with the next run (runstate.sweep_dead_runs).
    run_dir = run_scratch("tsmy")
    try:
        # As root, root's folder in the run's own group, in which the server (nobody) runs: it writes its
        # data and socket here, and no other process of uid nobody reaches them (serverrun.account).
        private_folder(run_dir)
        args = [str(owner), server, install, str(run_dir), str(state)]
        process = start_supervisor("testsupport.maria.supervisor", *args)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise

    def failed() -> Exception:
        logs = [run_dir / supervisor.LOG_FILE, run_dir / supervisor.SERVER_LOG]
        log = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists()) or "(no log)"
        return MariaDBFailedToStart(
            f"the throwaway MariaDB ({server}) did not start; its log:\n{log}\n"
            "Set TEST_MARIADB_URL to a server of yours instead."
        )

    wait_ready(process, run_dir, started + START_TIMEOUT, 0.005, failed)
    admin = URL.create("mysql+aiomysql", username="root", query={"unix_socket": str(run_dir / supervisor.SOCKET)})
    return {
        "admin_url": admin.render_as_string(hide_password=False),
        "supervisor_pid": process.pid,
        "run_dir": str(run_dir),
        "start_seconds": round(time.perf_counter() - started, 3),
    }


def embedded_server() -> AbstractContextManager[Server]:
    """A throwaway server of the caller's own, stopped at the end (the run's is ``shared_server``):
    a stand-in for a user's server in the tests, or for a script, whose process is then a run of
    its own (``runstate.own_run``)."""
    return own_server(start_embedded, Server)
