"""`python -m service` as a person runs it: a real process, real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from service.migrate import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_service(
    cwd: Path, env: dict[str, str], *args: str
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """Start the service in ``cwd`` with only ``env`` for its settings; its output goes to cwd/service.log."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "DATABASE_URL")}
    full_env = {**inherited, "PYTHONPATH": str(PROJECT_ROOT), **env}
    with (cwd / "service.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "--port", str(port), *args],
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:  # wait for the port to answer, or for the process to die
                try:
                    client.get("/openapi.json")
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(
                            f"service did not start (exit {proc.returncode}):\n{(cwd / 'service.log').read_text()}"
                        )
                    time.sleep(0.05)
            yield client, proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_default_run_creates_sqlite_migrates_and_serves(tmp_path: Path) -> None:
    with running_service(tmp_path, {}) as (client, _):
        assert client.get("/health").json() == {"status": "ok", "database": "sqlite"}
        assert (tmp_path / "service.db").exists()
    output = (tmp_path / "service.log").read_text()
    assert "Migrating sqlite+aiosqlite:///service.db to head" in output
    assert "API_TOKEN is not set; this run's token is: " in output


def test_unreachable_database_gives_503_and_the_process_keeps_running(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing", "API_TOKEN": "t"}
    with running_service(tmp_path, env, "--no-migrate") as (client, proc):
        assert client.get("/health").status_code == 503
        write = client.post(
            "/users", json={"email": "a@example.com", "name": "A"}, headers={"Authorization": "Bearer t"}
        )
        assert write.status_code == 503
        assert write.json()["detail"] == "The database is unavailable; try again later."
        assert client.get("/health").status_code == 503
        assert proc.poll() is None


def test_json_the_error_body_cannot_hold_is_a_422_and_the_connection_stays_open(tmp_path: Path) -> None:
    # A 500 raised from the 422 handler made uvicorn close the keep-alive connection.
    with running_service(tmp_path, {"API_TOKEN": "t"}) as (client, _):
        first = client.get("/health")
        local = first.extensions["network_stream"].get_extra_info("client_addr")
        for raw in (b'{"email": "a@example.com", "name": NaN}', b'{"email": "a@example.com", "name": "\\ud800"}'):
            response = client.post(
                "/users", content=raw, headers={"Authorization": "Bearer t", "Content-Type": "application/json"}
            )
            assert response.status_code == 422
            assert response.headers["content-type"] == "application/json"
            after = client.get("/health")
            assert after.status_code == 200
            assert after.extensions["network_stream"].get_extra_info("client_addr") == local
