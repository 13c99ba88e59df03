"""The run: one id and one owner for the controller and all its xdist workers, and the folder
and lock they share (server info, template name).

The run's folder goes with its run: its owner (the controller) holds ``owner.lock`` in it for the
run's life, and each run's start removes the folders whose lock nobody holds (their run was
killed; the kernel releases an flock when its holder dies, however it died), with the throwaway
folders named after such a run (``run_scratch``)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RUN_ID_ENV = "TESTSUPPORT_RUN_ID"
OWNER_ENV = "TESTSUPPORT_OWNER_PID"
OWNER_LOCK = "owner.lock"
_STATE = re.compile(r"testsupport-(?P<run>[0-9a-f]{10})")
_SCRATCH = re.compile(r"(?:testsupport-sqlite|tspg|tsmy)-(?P<run>[0-9a-f]{10})-.*")  # tsmy: MariaDB's
_LOCKLESS_DAYS = 1  # a state folder without the lock (an older testsupport's) counts as dead after

_worker = "main"
_reuse = False
_owned: dict[str, int] = {}  # run id -> the descriptor holding its folder's owner lock


def join_run(worker: str | None, reuse: bool = False) -> None:
    """Called in pytest_configure. The controlling process (worker None) starts a run, before any
    xdist worker exists; workers inherit its id and owner through the environment. Environment
    values inherited from an outer pytest (one that runs this one with pytester) are replaced."""
    global _worker, _reuse
    _worker = worker or "main"
    _reuse = reuse
    if worker is None:
        os.environ[RUN_ID_ENV] = uuid.uuid4().hex[:10]
        os.environ[OWNER_ENV] = str(os.getpid())
        sweep_dead_runs()
        _claim(run_id())


def _claim(run: str) -> None:
    """Make the run's folder with its owner lock held from the start (built aside, then renamed):
    no sweep ever finds it without the lock."""
    work = Path(tempfile.mkdtemp(prefix=f".testsupport-{run}-", dir=tempfile.gettempdir()))
    fd = os.open(work / OWNER_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    work.rename(state_path(run))
    _owned[run] = fd


def end_run() -> None:
    """The owner's end of the run: its folder removed, its lock let go."""
    shutil.rmtree(state_path(), ignore_errors=True)
    fd = _owned.pop(os.environ.get(RUN_ID_ENV, ""), None)
    if fd is not None:
        os.close(fd)


@contextmanager
def own_run() -> Iterator[None]:
    """Outside a pytest run (a script, ``python -m testsupport.pitfalls show``) the caller's process
    is a run of its own while this lasts: the owner of the servers it starts, its state folder
    removed at the end. Inside a run it changes nothing."""
    if RUN_ID_ENV in os.environ:
        yield
        return
    join_run(None)
    try:
        yield
    finally:
        end_run()
        for name in (RUN_ID_ENV, OWNER_ENV):
            os.environ.pop(name, None)


def _dead(state: Path) -> bool:
    """Whether ``state``'s run is over: nobody holds its owner lock (or it has none and is old)."""
    try:
        fd = os.open(state / OWNER_LOCK, os.O_RDWR)
    except FileNotFoundError:
        return time.time() - state.stat().st_mtime > _LOCKLESS_DAYS * 86400
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def sweep_dead_runs() -> list[Path]:
    """Remove this user's run folders of killed runs, and their throwaway folders (SQLite files,
    an embedded server's socket folder) in the temp and scratch folders. Returns what it removed."""
    removed = []
    tmp, live = Path(tempfile.gettempdir()), set()
    for state in tmp.glob("testsupport-*"):
        match = _STATE.fullmatch(state.name)
        with contextlib.suppress(FileNotFoundError):  # another run is sweeping it
            if not match or state.stat().st_uid != os.geteuid():
                continue
            if not _dead(state):
                live.add(match["run"])
                continue
            shutil.rmtree(state, ignore_errors=True)
            removed.append(state)
    from testsupport.serverrun.account import server_user  # here: it imports this module

    mine = {os.geteuid(), server_user().get("user", os.geteuid())}  # as root, the server's are nobody's
    for folder in {tmp, Path(scratch_root())}:
        for scratch in [*folder.glob("testsupport-sqlite-*"), *folder.glob("tspg-*"), *folder.glob("tsmy-*")]:
            match = _SCRATCH.fullmatch(scratch.name)
            with contextlib.suppress(FileNotFoundError):
                if match and match["run"] not in live and scratch.stat().st_uid in mine:
                    shutil.rmtree(scratch, ignore_errors=True)
                    removed.append(scratch)
    return removed


def scratch_root() -> str:
    """Where throwaway databases live: tmpfs when it has room (several times faster), else /tmp."""
    shm = "/dev/shm"  # noqa: S108 - mkdtemp makes private folders in it
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 512 * 2**20:
        return shm
    return tempfile.gettempdir()


def run_scratch(kind: str) -> Path:
    """A private throwaway folder of this run's, named after it (so it goes with the run), on
    tmpfs when there is one."""
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{run_id()}-", dir=scratch_root()))


def run_id() -> str:
    return os.environ[RUN_ID_ENV]


def owner_pid() -> int:
    """The pytest process (or xdist controller) whose life is the run's."""
    return int(os.environ[OWNER_ENV])


def worker() -> str:
    return _worker


def reuse() -> bool:
    return _reuse


def state_path(run: str | None = None) -> Path:
    """The run's shared folder (this process's run, or ``run``'s)."""
    return Path(tempfile.gettempdir()) / f"testsupport-{run or os.environ.get(RUN_ID_ENV, '-')}"


def info_path(state: Path | None = None) -> Path:
    """The run's server.json: where its server is, and its template."""
    return (state or state_path()) / "server.json"


def run_state_dir() -> Path:
    """The run's shared folder (server info, lock), made on first use."""
    path = state_path()
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextmanager
def run_lock() -> Iterator[Path]:
    """Serialises server start and template creation across xdist workers."""
    state = run_state_dir()
    with (state / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield state
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically, readable by this user only (it names the server and its databases)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(data))
    tmp.rename(path)


def ignore_errors(fn: Callable[[], object]) -> None:
    # Best-effort clean-up of a run that is ending anyway (the server may already be gone).
    with contextlib.suppress(Exception):
        fn()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (owned by anyone): the holder and the supervisor watch their run's
    pytest with it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# The helpers this process started that outlive the function starting them (the server's
# supervisor, the lock holder): their Popen is kept so they are reaped, not leaked.
_children: dict[int, subprocess.Popen[Any]] = {}


def keep_child(process: subprocess.Popen[Any]) -> int:
    _children[process.pid] = process
    return process.pid


def stop_child(pid: int, timeout: float) -> bool:
    """SIGTERM to ``pid``; if this process started it, wait for it. False if it was started elsewhere
    (by another xdist worker: the caller waits another way) or is gone."""
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        _children.pop(pid, None)
        return False
    child = _children.pop(pid, None)
    if child is None:
        return False
    child.wait(timeout)
    return True


def release_children() -> None:
    """At an xdist worker's end: the helpers it started are the run's, stopped by the controller
    (their owner), so they outlive this process. Let go of their Popen without the ResourceWarning
    ("subprocess N is still running") that Popen.__del__ gives for a child still running; CPython
    then queues it for reaping (subprocess._active)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _children.clear()
