"""The user's own server (a target's ``TEST_..._URL``), from the run's side: its URL read, and the
process that holds the run's lock there (``serverrun.holder``) started and stopped."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.engine import URL, make_url

from testsupport.pg.runstate import keep_child, owner_pid, run_id, run_state_dir, stop_child
from testsupport.serverrun.admin import shown


def parse_url(raw: str, url_env: str, backends: tuple[str, ...], kind: str, form: str, error: type[Exception]) -> URL:
    """The URL in ``url_env``, or ``error`` naming the ``form`` it takes; never showing the password
    (not even of a URL that does not parse: it may still hold one)."""
    try:
        url = make_url(raw)
    except Exception:  # noqa: BLE001 - ArgumentError and ValueError both mean "not a URL"
        raise error(
            f"{url_env} is set but is not a database URL (its value is not shown: it may hold a password); use {form}."
        ) from None
    if url.get_backend_name() not in backends:
        raise error(f"{url_env}={shown(url)} is not a {kind} URL; use {form}.")
    return url


def start_holder(module: str, url: str, where: str, error: type[Exception]) -> int:
    """Start ``python -m module``, the target's holder of this run's lock on the server at ``url``
    (``where``: how the error names it); its pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(owner_pid()), run_id(), str(run_state_dir())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C goes to pytest; the holder ends with the run
    )
    stdin, stdout, stderr = process.stdin, process.stdout, process.stderr
    assert stdin is not None
    assert stdout is not None
    assert stderr is not None
    stdin.write(url + "\n")  # not argv: others can read that
    stdin.close()
    if stdout.readline().strip() != "ready":
        process.wait()
        raise error(f"could not hold this run's lock on {where}: {stderr.read()[-2000:]}")
    stdout.close()
    stderr.close()
    return keep_child(process)


def stop_holder(pid: int) -> None:
    stop_child(pid, 10)
