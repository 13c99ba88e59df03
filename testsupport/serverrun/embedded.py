"""A target's throwaway server, from the run's side: its supervisor started (``serverrun.supervisor``
is that process's loop), waited for until its server is ready, stopped at the end."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL, make_url

from testsupport.pg.runstate import keep_child, own_run, pid_alive, stop_child
from testsupport.serverrun.supervisor import READY_FILE

S = TypeVar("S")


def start_supervisor(module: str, *args: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """``python -m module args``, the supervisor of a server, kept as this process's child."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        start_new_session=True,  # Ctrl-C goes to pytest; the supervisor cleans up after it
        stdin=subprocess.DEVNULL,
        pass_fds=pass_fds,
    )
    keep_child(process)
    return process


def wait_ready(
    process: subprocess.Popen[bytes], run_dir: Path, deadline: float, poll: float, failed: Callable[[], Exception]
) -> None:
    """Until the supervisor says its server accepts connections; if it ends or ``deadline``
    (``time.perf_counter``) passes first, it is killed and ``failed()`` (built from the logs in
    ``run_dir``) raised, ``run_dir`` removed."""
    ready = run_dir / READY_FILE
    while not ready.exists():
        if process.poll() is not None or time.perf_counter() > deadline:
            process.kill()
            process.wait()
            error = failed()
            shutil.rmtree(run_dir, ignore_errors=True)
            raise error
        time.sleep(poll)


def stop_supervisor(pid: int, run_dir: Path, timeout: float = 10.0) -> None:
    if stop_child(pid, timeout) or not pid_alive(pid):
        return
    deadline = time.monotonic() + timeout  # started by an xdist worker: wait for its clean-up
    while run_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@contextmanager
def own_server(start: Callable[[], dict[str, Any]], connect: Callable[[URL], S]) -> Iterator[S]:
    """A throwaway server of the caller's own (``start``ed, ``connect``ed), stopped at the end (the
    run's is ``shared_server``). Outside a pytest run (a script, ``python -m testsupport.pitfalls
    show``) the caller's process is a run of its own (``runstate.own_run``)."""
    with own_run():
        info = start()
        try:
            yield connect(make_url(info["admin_url"]))
        finally:
            stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))
