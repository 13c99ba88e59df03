"""A PostgreSQL server that cannot outlive its test run.

``python -m testsupport.pg.supervisor OWNER_PID BINDIR RUN_DIR STATE_DIR DATA_DIR KEEP`` starts
``postgres`` on DATA_DIR (prepared by testsupport.pg.embedded) as its child, with its socket in
RUN_DIR, and supervises it as every target's server is (``serverrun.supervisor``: it writes
``RUN_DIR/server.json`` once the server is ready, and stops it and removes RUN_DIR when OWNER_PID
ends, STATE_DIR too if the owner died without cleaning up). KEEP=1 (--reuse-db) keeps DATA_DIR for
the next run and stops with a checkpoint so the next start is quick. If the supervisor itself is
killed, the kernel sends the server SIGQUIT (PR_SET_PDEATHSIG), PostgreSQL's immediate shutdown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from testsupport.serverrun.account import server_user
from testsupport.serverrun.supervisor import die_with_parent, supervise

LOG_FILE = "postgres.log"
_ENV = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}


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
    def start() -> subprocess.Popen[bytes]:
        with (run_dir / LOG_FILE).open("ab") as out:
            return subprocess.Popen(
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
                preexec_fn=die_with_parent(signal.SIGQUIT),
                **server_user(),
            )

    def stop(server: subprocess.Popen[bytes]) -> None:
        # Fast shutdown (a checkpoint) for a cluster that is kept; immediate for a throwaway one.
        server.send_signal(signal.SIGINT if keep else signal.SIGQUIT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    return supervise(owner_pid, run_dir, state_dir, start, lambda: _ready(data), stop, 0.002)


if __name__ == "__main__":
    owner, bindir, run_dir, state_dir, data, keep = sys.argv[1:7]
    sys.exit(run(int(owner), Path(bindir), Path(run_dir), Path(state_dir), Path(data), keep == "1"))
