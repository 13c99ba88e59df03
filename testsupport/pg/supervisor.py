"""A PostgreSQL server that cannot outlive its test run.

``python -m testsupport.pg.supervisor OWNER_PID BINDIR RUN_DIR STATE_DIR DATA_DIR KEEP`` runs as a small
supervisor in its own session (so Ctrl-C in the terminal reaches pytest, not it): it starts
``postgres`` on DATA_DIR (prepared by testsupport.pg.embedded) as its child, with its socket in
RUN_DIR, writes ``RUN_DIR/server.json`` when the server accepts connections, and then watches
OWNER_PID (the pytest process, or the xdist controller). When the owner exits (normally, by Ctrl-C
or by SIGKILL) or sends SIGTERM, it stops the server and removes RUN_DIR; if the owner died without
cleaning up, the run's STATE_DIR too. KEEP=1 (--reuse-db) keeps DATA_DIR for the next run and
stops with a checkpoint so the next start is quick. If the supervisor itself is killed, the kernel
sends the server SIGQUIT (PR_SET_PDEATHSIG), PostgreSQL's immediate shutdown.
"""

from __future__ import annotations

import ctypes
import grp
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testsupport.pg.runstate import RUN_ID_ENV, pid_alive, write_json

READY_FILE = "server.json"
LOG_FILE = "postgres.log"
POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child after setuid (CPython applies user= before preexec_fn), which matters:
    # a change of credentials clears the parent-death signal.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


_ENV = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}


def server_group() -> int:
    """As root, the group the run's server runs in: a gid of the run's own, with no name, so no
    other process of uid nobody is in it (setgid needs no name; PostgreSQL looks up only its user).
    The folders that hold the server's socket and data are root's, in this group, closed to
    others: any process of uid nobody could otherwise connect as superuser (trust on the socket)
    or edit the cluster. Derived from the run's id, so all its processes agree."""
    digest = hashlib.sha256(os.environ.get(RUN_ID_ENV, "").encode()).digest()
    gid = 2**30 + int.from_bytes(digest[:4], "big") % 2**29
    while _group_exists(gid):
        gid += 1
    return gid


def _group_exists(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True


def server_user() -> dict[str, Any]:
    """PostgreSQL refuses to run as root; as root, run it as nobody, in the run's own group."""
    if os.geteuid() != 0:
        return {}
    return {"user": pwd.getpwnam("nobody").pw_uid, "group": server_group(), "extra_groups": []}


def private_folder(folder: Path, server_writes: bool = True) -> None:
    """``folder`` reachable by this user and the run's server only: as root, root's, in the
    server's group (which writes in it if ``server_writes``), nothing for others; else 0700."""
    if os.geteuid() != 0:
        folder.chmod(0o700)
        return
    os.chown(folder, 0, server_group())
    folder.chmod(0o770 if server_writes else 0o750)


def _ready(data: Path) -> bool:
    # What `pg_ctl -w` checks: line 8 of postmaster.pid is the status, "ready" once connections
    # are accepted. https://www.postgresql.org/docs/current/server-start.html
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def initdb(bindir: Path, data: Path, log: Path) -> None:
    """A new cluster in ``data`` (whose parent the server user can write)."""
    with log.open("ab") as out:
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_ENV,
            check=True,
            **server_user(),
        )
    # Trust the superuser on the private socket; other roles need their password, so a test can
    # check what a wrong one does.
    (data / "pg_hba.conf").write_text("local all postgres trust\nlocal all all scram-sha-256\n")


def run(owner_pid: int, bindir: Path, run_dir: Path, state_dir: Path, data: Path, keep: bool) -> int:
    log = run_dir / LOG_FILE
    server: subprocess.Popen[bytes] | None = None
    stop = False

    def _on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    try:
        with log.open("ab") as out:
            server = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    f"unix_socket_directories={run_dir}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_ENV,
                preexec_fn=_die_with_parent,
                **server_user(),
            )
        while not _ready(data):
            if server.poll() is not None or stop or not pid_alive(owner_pid):
                return 1
            time.sleep(0.002)
        write_json(run_dir / READY_FILE, {"pid": server.pid})  # atomic: its presence says "ready"
        while not stop and pid_alive(owner_pid) and server.poll() is None:
            time.sleep(POLL_SECONDS)
        return 0
    finally:
        if server is not None and server.poll() is None:
            # Fast shutdown (a checkpoint) for a cluster that is kept; immediate for a throwaway one.
            server.send_signal(signal.SIGINT if keep else signal.SIGQUIT)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        # Keep the log of a server that never became ready: the test run shows it.
        if (run_dir / READY_FILE).exists() or not pid_alive(owner_pid):
            shutil.rmtree(run_dir, ignore_errors=True)
        if not pid_alive(owner_pid):
            shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    owner, bindir, run_dir, state_dir, data, keep = sys.argv[1:7]
    sys.exit(run(int(owner), Path(bindir), Path(run_dir), Path(state_dir), Path(data), keep == "1"))
