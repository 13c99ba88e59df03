"""Where PostgreSQL comes from: the embedded server, the user's own (TEST_POSTGRES_URL), and what
happens when either goes wrong. Each case runs a small inner suite, in this process unless it must
be killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.inner import alive, popen, run_inprocess, wait_for
from tests.service_suite import use_service
from testsupport.pg.embedded import stop_supervisor
from testsupport.pg.runstate import state_path
from testsupport.postgres import (
    BINDIR_ENV,
    OWNER_ENV,
    REQUIRE_ENV,
    RUN_ID_ENV,
    URL_ENV,
    PostgresMisconfigured,
    PostgresUnavailable,
    Server,
    external_server,
    find_bindir,
)

pytestmark = pytest.mark.postgres

INNER_SUITE = textwrap.dedent(
    """
    from sqlalchemy import text

    async def test_runs_in_a_database_of_its_own(db_session):
        name = await db_session.scalar(text("SELECT current_database()"))
        version = await db_session.scalar(text("SHOW server_version_num"))
        tables = await db_session.scalar(text("SELECT count(*) FROM pg_tables WHERE tablename = 'users'"))
        print(f"INNER database={name} version={version} users_table={tables}")
        assert name.startswith("test_")
    """
)


def inner_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    use_service(pytester)
    pytester.makepyfile(test_inner=INNER_SUITE)
    return run_inprocess(pytester, monkeypatch, "-s", "-k", "postgres", *args)


def databases(server: Server) -> set[str]:
    return {row[0] for row in server.execute("SELECT datname FROM pg_database")[0]}


def test_embedded_server_is_used_by_default(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    result = inner_run(pytester, monkeypatch)
    result.assert_outcomes(passed=1, deselected=5)
    result.stdout.re_match_lines([r".*INNER database=test_\w+_main version=18\d{4} users_table=1"])


def test_user_server_is_used_and_left_untouched(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, own_server: Server
) -> None:
    own_server.create_database("user_db")
    user_db = Server(own_server.admin_url.set(database="user_db"))
    user_db.execute("CREATE TABLE sentinel (id int PRIMARY KEY, note text)", "INSERT INTO sentinel VALUES (1, 'mine')")
    before = databases(own_server)
    url = own_server.admin_url.set(drivername="postgresql", database="user_db")
    monkeypatch.setenv(URL_ENV, url.render_as_string(hide_password=False))

    result = inner_run(pytester, monkeypatch)

    result.assert_outcomes(passed=1, deselected=5)
    result.stdout.re_match_lines([r".*INNER database=test_\w+_main version=\d+ users_table=1"])
    assert databases(own_server) == before
    assert user_db.execute("SELECT id, note FROM sentinel")[0] == [(1, "mine")]
    assert user_db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0][0] == 1


BAD_URLS = {
    "unreachable-port": ("postgresql://postgres@127.0.0.1:1/postgres", "cannot connect"),
    "unknown-host": ("postgresql://postgres@no-such-host.invalid/postgres", "unknown host"),
    "wrong-password": ("postgresql://app:wrong-secret@/postgres?host={socket}", "authentication failed"),
    "no-createdb": ("postgresql://plain:plain-secret@/postgres?host={socket}", "may not create databases"),
    "not-postgres": ("mysql://root@127.0.0.1/x", "is not a PostgreSQL URL"),
    "not-a-url": ("postgresql://app:the-secret@db.example:five432/x", "is not a database URL"),
    # Something listens but never answers: named, after the probe's 3 s, not an empty reason after 10 s.
    "silent-listener": (
        "postgresql://app:the-secret@127.0.0.1:{silent}/postgres",
        "cannot connect: 127.0.0.1:{silent} accepted the connection but sent nothing back within 3 s: a program "
        "other than PostgreSQL listens there. Fix TEST_POSTGRES_URL",
    ),
}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener accepts connections (the kernel does, up to its backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def bad_url(own_server: Server, case: str, silent_port: int) -> tuple[str, str, str]:
    """The case's URL, the error it must give, and how the URL must be shown in it."""
    own_server.execute(
        *(
            f"DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            for role in ("app LOGIN CREATEDB PASSWORD 'right'", "plain LOGIN PASSWORD 'plain-secret'")
        ),
    )
    template, expected = BAD_URLS[case]
    url = template.format(socket=own_server.admin_url.query["host"], silent=silent_port)
    expected = expected.format(silent=silent_port)
    # Where a URL cannot be parsed, nothing of it is shown: it may still hold a password.
    shown = (
        f"{URL_ENV} is set"
        if case == "not-a-url"
        else f"{URL_ENV}={make_url(url).render_as_string(hide_password=True)}"
    )
    return url, expected, shown


@pytest.mark.parametrize("case", list(BAD_URLS))
def test_bad_user_url_is_one_clear_error(own_server: Server, case: str, silent_port: int) -> None:
    url, expected, shown = bad_url(own_server, case, silent_port)

    with pytest.raises(PostgresMisconfigured) as caught:
        external_server(url)

    message = str(caught.value)
    assert message.count(shown) == 1, message
    assert expected in message
    assert "secret" not in message  # the password is hidden


# How the run reports that error: the same path for every case; one that fails on connecting and
# one that fails on parsing.
@pytest.mark.parametrize("case", ["unreachable-port", "not-a-url"])
def test_bad_user_url_stops_the_run_with_one_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, own_server: Server, case: str, silent_port: int
) -> None:
    url, expected, shown = bad_url(own_server, case, silent_port)
    monkeypatch.setenv(URL_ENV, url)
    monkeypatch.delenv(REQUIRE_ENV, raising=False)

    result = inner_run(pytester, monkeypatch)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count(shown) == 1, output
    assert expected in output
    assert "secret" not in output  # the password is hidden
    assert "Traceback" not in output


def test_bad_user_url_stops_an_xdist_run_with_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, own_server: Server, silent_port: int
) -> None:
    """pytest.exit in an xdist worker is a crash to the controller: an INTERNALERROR without the
    message. The worker's test errors with it instead, and the run stops naming it."""
    url, expected, shown = bad_url(own_server, "unreachable-port", silent_port)
    monkeypatch.setenv(URL_ENV, url)
    monkeypatch.delenv(REQUIRE_ENV, raising=False)

    result = inner_run(pytester, monkeypatch, "-p", "xdist", "-n", "2")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    result.stdout.fnmatch_lines([f"*Interrupted: {shown}: {expected} (connection refused: no server listens there)*"])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


BLOCKING_SUITE = textwrap.dedent(
    """
    import json, os, pathlib, tempfile, time

    async def test_blocks_until_killed(db_session):
        state = pathlib.Path(tempfile.gettempdir()) / f"testsupport-{os.environ['TESTSUPPORT_RUN_ID']}"
        info = json.loads((state / "server.json").read_text())
        info["run_id"] = os.environ["TESTSUPPORT_RUN_ID"]
        pathlib.Path(os.environ["MARKER"] + ".tmp").write_text(json.dumps(info))
        os.replace(os.environ["MARKER"] + ".tmp", os.environ["MARKER"])  # read as soon as it exists
        time.sleep(300)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigkill_of_the_test_run_leaves_no_server(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    marker = pytester.path / "server.json"
    monkeypatch.setenv("MARKER", str(marker))
    use_service(pytester)
    pytester.makepyfile(test_block=BLOCKING_SUITE)
    run = popen(pytester, "-k", "postgres")  # plugins named: no scan of every entry point
    try:
        wait_for(lambda: marker.exists() or run.poll() is not None, "the inner run's server to come up", 60)
        assert run.poll() is None, "the inner run ended before its server came up"
        info = json.loads(marker.read_text())
        run_dir = Path(info["run_dir"])
        postmaster = int((run_dir / "data" / "postmaster.pid").read_text().split()[0])
        processes = [info["supervisor_pid"], postmaster, *_children(postmaster)]
        assert all(alive(pid) for pid in processes)

        os.kill(run.pid, signal.SIGKILL)
    finally:
        if run.poll() is None:  # this test failed before its kill: the inner run must not outlive it
            run.kill()
        run.communicate()

    state_dir = state_path(info["run_id"])
    wait_for(
        lambda: not any(alive(pid) for pid in processes) and not run_dir.exists() and not state_dir.exists(),
        f"the server's processes, {run_dir} and {state_dir} to go",
        15,
    )


WORKER = textwrap.dedent(
    """
    from testsupport import postgres
    from testsupport.pg.shared import shared_server

    postgres.join_run("gw0")  # an xdist worker: the run and its owner come from the environment
    server, info = shared_server()
    postgres.leave_run()
    print(info["supervisor_pid"], info["run_dir"])
    """
)


def test_a_worker_leaves_the_runs_server_running_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An xdist worker may start the run's server and end before it (the controller stops it):
    its end must not print Popen's "subprocess N is still running" (a ResourceWarning, hidden
    unless warnings are on, as here)."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv(RUN_ID_ENV, f"leave{os.getpid()}")
    monkeypatch.setenv(OWNER_ENV, str(os.getpid()))  # this test stands for the controller
    env = {**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"}
    # Files, not pipes: the server's supervisor inherits them and outlives the worker.
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as err:
        code = subprocess.run([sys.executable, "-c", WORKER], env=env, stdout=out, stderr=err, check=False).returncode
    pid, run_dir = (tmp_path / "out").read_text().split()
    stderr = (tmp_path / "err").read_text()
    try:
        assert code == 0, stderr
        assert "still running" not in stderr
        os.kill(int(pid), 0)  # the server's supervisor outlived the worker
    finally:
        stop_supervisor(int(pid), Path(run_dir))
        shutil.rmtree(state_path(), ignore_errors=True)


def test_a_bin_folder_without_initdb_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only `postgres` there: one message naming the variable and what to do, nothing left behind
    (initdb used to fail with a raw FileNotFoundError and leave a folder in the cluster cache)."""
    (tmp_path / "postgres").symlink_to(find_bindir() / "postgres")
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    with pytest.raises(PostgresUnavailable) as raised:
        find_bindir()
    assert str(raised.value) == (
        f"{BINDIR_ENV}={tmp_path} has no `postgres` binary (or no `initdb`): point it at a PostgreSQL bin "
        "folder (e.g. /usr/lib/postgresql/16/bin), or unset it."
    )


OUTSIDE_PYTEST = textwrap.dedent(
    """
    import os, tempfile
    from testsupport.postgres import embedded_server

    with embedded_server() as server:
        print(server.execute("SELECT 1")[0][0][0], os.environ["TESTSUPPORT_RUN_ID"], tempfile.gettempdir())
    print(sorted(k for k in os.environ if k.startswith("TESTSUPPORT_")))
    """
)


def test_embedded_server_outside_a_pytest_run_is_a_run_of_its_own(tmp_path: Path) -> None:
    """A script (a benchmark, `python -m testsupport.pitfalls show`) needs no run set up by hand,
    and leaves neither the run's folder nor its environment behind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTSUPPORT_") and k != URL_ENV}
    with (tmp_path / "out").open("w") as out:  # a file: the supervisor inherits it
        subprocess.run([sys.executable, "-c", OUTSIDE_PYTEST], env=env, stdout=out, stderr=out, check=False)
    output = (tmp_path / "out").read_text()
    assert "Error" not in output, output
    first, second = output.splitlines()[-2:]
    one, run, tmp = first.split()
    assert one == "1"
    assert not (Path(tmp) / f"testsupport-{run}").exists()
    assert second == "[]"
