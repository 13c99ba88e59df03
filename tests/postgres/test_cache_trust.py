"""The cluster cache and the server's socket folder are used only when nobody else can change them
(issue 20 item 5): a cache others can write is refused, an entry others could have edited is
rebuilt and the run says so, and as root the server's socket and data are closed to every other
process of its uid (nobody)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from testsupport.pg.embedded import start_embedded, stop_supervisor
from testsupport.postgres import CACHE_ENV, PostgresMisconfigured, Server, embedded_server

pytestmark = pytest.mark.postgres
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")


@pytest.fixture
def started(own_cache: Path) -> Iterator[list[dict[str, Any]]]:
    """The servers a test starts with start_embedded (its info), stopped at the end."""
    infos: list[dict[str, Any]] = []
    yield infos
    for info in infos:
        stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))


def start(infos: list[dict[str, Any]]) -> tuple[Server, dict[str, Any]]:
    infos.append(start_embedded())
    return Server(make_url(infos[-1]["admin_url"])), infos[-1]


@pytest.mark.parametrize("case", ["writable-by-others", pytest.param("another-users", marks=ROOT_ONLY)])
def test_a_cache_that_is_not_yours_alone_is_refused(own_cache: Path, case: str) -> None:
    if case == "writable-by-others":
        own_cache.chmod(0o777)
        reason = f"{own_cache} is writable by others (mode 0777)"
    else:
        os.chown(own_cache, 12345, 12345)
        reason = f"{own_cache} is owned by uid 12345, not by uid 0 who runs the tests"

    with pytest.raises(PostgresMisconfigured) as raised, embedded_server():
        pass

    assert str(raised.value) == (
        f"the PostgreSQL cluster cache is not yours alone: {reason}. Another user could change the clusters "
        "the tests run on (a setting planted in one reaches every test server). Fix: remove it, or set "
        f"{CACHE_ENV} to a folder of your own that others cannot write."
    )
    assert [path.name for path in own_cache.iterdir()] == []  # nothing was made in it


@pytest.mark.parametrize(
    "case", ["config-writable-by-others", pytest.param("pristine-owned-by-the-servers-user", marks=ROOT_ONLY)]
)
def test_a_cache_entry_others_could_edit_is_rebuilt_and_said_so(
    own_cache: Path, started: list[dict[str, Any]], case: str
) -> None:
    server, first = start(started)
    assert server.execute("SHOW work_mem")[0][0][0] == "4MB"
    assert first["notes"] == []
    (entry,) = own_cache.iterdir()
    config = entry / "pristine" / "postgresql.conf"
    with config.open("a") as planted:
        planted.write("\nwork_mem = '7777kB'\n")
    if case == "config-writable-by-others":
        config.chmod(0o666)
        reason = f"{config} is writable by others (mode 0666)"
    else:  # as versions before this one left it: any process of uid nobody could edit it
        nobody = pwd.getpwnam("nobody")
        for path in [entry / "pristine", *(entry / "pristine").rglob("*")]:
            os.lchown(path, nobody.pw_uid, nobody.pw_gid)
        reason = f"{entry / 'pristine'} is owned by uid {nobody.pw_uid}, not by uid 0 who runs the tests"

    server, second = start(started)

    assert server.execute("SHOW work_mem")[0][0][0] == "4MB"  # the planted setting is not used
    assert second["notes"] == [f"rebuilt the cluster cache entry {entry}: {reason}"]


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the server runs as that user, in its 0700 folder")
def test_as_root_the_servers_socket_and_data_are_closed_to_other_processes_of_its_user(
    own_server: Server,
) -> None:
    """The server runs as nobody: any process of that uid reached its socket (and connected as
    superuser: trust) and its data folder."""
    run_dir = Path(own_server.admin_url.query["host"])  # type: ignore[arg-type]
    nobody = pwd.getpwnam("nobody")
    stat = shutil.which("stat")
    assert stat is not None
    for path in (run_dir / ".s.PGSQL.5432", run_dir / "data" / "postgresql.conf"):
        result = subprocess.run(
            [stat, path], user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[], capture_output=True, text=True
        )
        assert result.returncode != 0
        assert "Permission denied" in result.stderr
    assert own_server.execute("SELECT 1")[0][0][0] == 1  # and the tests still reach it


def test_a_kept_cluster_others_could_edit_is_rebuilt_and_said_so(own_cache: Path) -> None:
    def start_kept() -> tuple[str, list[str]]:
        info = start_embedded(reuse=True)
        try:
            return Server(make_url(info["admin_url"])).execute("SHOW work_mem")[0][0][0], info["notes"]
        finally:
            stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))

    assert start_kept() == ("4MB", [])
    (entry,) = own_cache.iterdir()
    config = entry / "kept" / "data" / "postgresql.conf"
    with config.open("a") as planted:
        planted.write("\nwork_mem = '7777kB'\n")
    config.chmod(0o666)

    assert start_kept() == (
        "4MB",
        [f"rebuilt the kept cluster {config.parent}: {config} is writable by others (mode 0666)"],
    )
    assert start_kept() == ("4MB", [])  # kept again
