"""A MariaDB server that cannot outlive its test run.

``python -m testsupport.maria.supervisor OWNER_PID MARIADBD INSTALL_DB RUN_DIR STATE_DIR`` creates a
data folder in RUN_DIR with ``mariadb-install-db``, starts ``mariadbd`` on it as its child (no TCP,
a unix socket in RUN_DIR) and supervises it as every target's server is (``serverrun.supervisor``:
it writes ``RUN_DIR/server.json`` once the server accepts connections, and kills it and removes
RUN_DIR when OWNER_PID ends, STATE_DIR too if the owner died without cleaning up). If the
supervisor itself is killed (not something a killed run does: it is in a session of its own), the
kernel kills the server (PR_SET_PDEATHSIG), and its RUN_DIR, named after the run, goes with the
next run's sweep (``runstate.sweep_dead_runs``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from testsupport.serverrun.account import server_user
from testsupport.serverrun.supervisor import die_with_parent, supervise

LOG_FILE = "install.log"  # mariadb-install-db's output
SERVER_LOG = "mariadbd.err"  # the server's, written by the server's own user
SOCKET = "mysql.sock"
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "TZ": "UTC"}

# What production servers run with (MariaDB 10.2.4+'s default sql_mode; Debian's utf8mb4), set
# explicitly because --no-defaults reads no my.cnf: latin1 and a lax mode would hide what
# production rejects. https://mariadb.com/kb/en/sql-mode/
SQL_MODE = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION"
SERVER_OPTIONS = (
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    f"--sql-mode={SQL_MODE}",
    "--default-storage-engine=InnoDB",
    # A throwaway server: no durability, small logs (the default redo log is 96 MB, on tmpfs).
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    "--skip-log-bin",
    "--skip-name-resolve",
    "--max-connections=200",
)


def install_db(install: str, data: Path, log: Path) -> None:
    """The system tables in ``data``; root@localhost with no password, reachable only through the
    private socket (the server listens on no TCP port)."""
    with log.open("ab") as out:
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={data}",
                # Its own temporary folder: in a shared /tmp, concurrent servers' bootstraps failed
                # ("Could not remove temporary table: '/tmp/#sql-temptable-...'").
                f"--tmpdir={data.parent}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *SERVER_OPTIONS,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_ENV,
            check=True,
            **server_user(),  # mariadbd refuses to run as root without --user=root
        )


def _ready(log: Path) -> bool:
    # mariadbd logs this once the socket accepts connections (sql/mysqld.cc, "ready for connections").
    try:
        return b"ready for connections" in log.read_bytes()
    except FileNotFoundError:
        return False


def run(owner_pid: int, mariadbd: str, install: str, run_dir: Path, state_dir: Path) -> int:
    def start() -> subprocess.Popen[bytes]:
        data = run_dir / "data"
        install_db(install, data, run_dir / LOG_FILE)
        return subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={run_dir / SOCKET}",
                f"--tmpdir={run_dir}",
                f"--pid-file={run_dir / 'mariadb.pid'}",
                f"--log-error={run_dir / SERVER_LOG}",
                "--skip-networking",
                *SERVER_OPTIONS,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=_ENV,
            preexec_fn=die_with_parent(signal.SIGKILL),
            **server_user(),
        )

    def stop(server: subprocess.Popen[bytes]) -> None:
        server.kill()  # a throwaway server: nothing to flush
        server.wait()

    return supervise(owner_pid, run_dir, state_dir, start, lambda: _ready(run_dir / SERVER_LOG), stop, 0.005)


if __name__ == "__main__":
    owner, mariadbd, install, run_dir, state_dir = sys.argv[1:6]
    sys.exit(run(int(owner), mariadbd, install, Path(run_dir), Path(state_dir)))
