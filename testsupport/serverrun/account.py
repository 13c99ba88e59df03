"""As root, who the run's servers run as: PostgreSQL refuses to run as root, mariadbd without
``--user=root``; so they run as nobody, in a group of the run's own, and the folders that hold their
sockets and data are closed to every other process."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
from pathlib import Path
from typing import Any

from testsupport.pg.runstate import RUN_ID_ENV


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
