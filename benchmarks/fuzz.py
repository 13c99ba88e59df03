"""The long fuzz run: Schemathesis against a running service, EXAMPLES cases per operation and mode,
with the seed printed so a failure can be replayed. The suite's bounded version is
tests/integration/test_schema_fuzz.py; both use tests/fuzzing.py (the same checks).

uv run python benchmarks/fuzz.py                                  # uvicorn on 127.0.0.1, SQLite, 500 each
uv run python benchmarks/fuzz.py --database postgres --examples 2000
uv run python benchmarks/fuzz.py --server in-process --seed 1234  # replay a run
uv run python benchmarks/fuzz.py --database-url postgresql://postgres@127.0.0.1:5432/scratch

The database is a fresh one (a SQLite file in a temporary folder, or a database on the embedded
PostgreSQL), migrated first; --database-url uses yours, and writes to it. Exit status 1 when any
operation failed a check; each failure is printed with a curl command that reproduces it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from service import migrate  # noqa: E402
from service.main import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.fuzzing import AnyCase, fuzz, load, request_args  # noqa: E402
from testsupport import postgres  # noqa: E402

TOKEN = "fuzz-token"  # noqa: S105 (the throwaway server's token)
PASSES = [  # (name, mode, on existing ids)
    ("positive", GenerationMode.POSITIVE, False),
    ("negative", GenerationMode.NEGATIVE, False),
    ("positive, existing ids", GenerationMode.POSITIVE, True),
]


@contextlib.contextmanager
def database(kind: str, url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
    elif kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
            yield f"sqlite+aiosqlite:///{folder}/fuzz.db"
    else:
        with postgres.embedded_server() as server:
            yield server.create_database("fuzz")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def uvicorn_client(url: str) -> Iterator[httpx.Client]:
    """``python -m service --no-migrate`` on a free port of 127.0.0.1, and a client for it."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "API_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "--no-migrate", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        client.get("/openapi.json")
                        break
                    except httpx.TransportError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            log.seek(0)
                            sys.exit(f"the service did not start:\n{log.read().decode(errors='replace')}")
                        time.sleep(0.05)
                yield client
        finally:
            proc.terminate()
            proc.wait(10)


@contextlib.contextmanager
def in_process_client(url: str) -> Iterator[httpx.Client]:
    """The app in this process, through Starlette's TestClient (its lifespan runs)."""
    with warnings.catch_warnings():  # Starlette 1.x deprecates TestClient on httpx (for httpx2)
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    with TestClient(create_app(Settings(database_url=url, api_token=SecretStr(TOKEN)))) as client:
        yield client


def run(client: httpx.Client, examples: int, seed: int) -> tuple[Counter[tuple[str, str, str]], list[str]]:
    schema = load(client.get("/openapi.json").json())
    counts: Counter[tuple[str, str, str]] = Counter()
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for name, mode, existing in PASSES:
        ids: dict[str, int] = {}
        if existing:
            user = client.post("/users", json={"email": f"fuzz-{seed}@example.com", "name": "Fuzz"}, headers=headers)
            user.raise_for_status()
            ids["user_id"] = user.json()["id"]
            note = client.post(f"/users/{ids['user_id']}/notes", json={"title": "F"}, headers=headers)
            note.raise_for_status()
            ids["note_id"] = note.json()["id"]

        def send(case: AnyCase, name: str = name) -> httpx.Response:
            response = client.request(**request_args(case))
            counts[case.operation.label, name, f"{response.status_code // 100}xx"] += 1
            return response

        skip: Callable[[object], bool] = (
            (lambda operation: getattr(operation, "method", "").upper() == "DELETE") if existing else (lambda _: False)
        )
        failures += fuzz(
            schema,
            send,
            mode=mode,
            examples=examples,
            headers=headers,
            path_parameters=ids,
            skip=skip,
            seed=f"{seed} {name}",  # one stream per pass: the same seed would draw the same emails again
        )
    return counts, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=500, help="cases per operation and pass (default 500)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: a random one, printed)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=None, help="fuzz this database instead (it is written to)")
    parser.add_argument("--server", choices=["uvicorn", "in-process"], default="uvicorn")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    replay = f"--seed {seed} --examples {args.examples} --database {args.database} --server {args.server}"
    print(f"seed {seed} (replay with {replay}); {args.examples} examples per operation and pass", flush=True)

    started = time.monotonic()
    with database(args.database, args.database_url) as url:
        migrate.upgrade(url=url)
        serve = uvicorn_client if args.server == "uvicorn" else in_process_client
        with serve(url) as client:
            counts, failures = run(client, args.examples, seed)
    elapsed = time.monotonic() - started

    rows = sorted({(label, name) for label, name, _ in counts})
    print("\n| operation | pass | requests | 2xx | 4xx | 5xx |")
    print("|---|---|---|---|---|---|")
    for label, name in rows:
        ok, client_error, server_error = (counts[label, name, cls] for cls in ("2xx", "4xx", "5xx"))
        print(f"| {label} | {name} | {ok + client_error + server_error} | {ok} | {client_error} | {server_error} |")
    total = sum(counts.values())
    print(f"\n{total} requests in {elapsed:.1f} s, seed {seed}, {len(failures)} failing operation(s)")
    for failure in failures:
        print(f"\n{failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
