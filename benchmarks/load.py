"""Load: a generated suite of 10,000 tests (half database tests), through testsupport's public
configuration, once per database; does anything grow with the number of tests?

    uv run python benchmarks/load.py [--tests 10000] [--window 1000]

Half the tests are isolation.py's API test (POST a user, GET it back through the app, on the
test's transaction), half async tests without a database, interleaved over modules of 500. The in-run
clock (benchmarks/test_clock.py, its trace mode) records each test's set-up time, and every 250
tests the process's RSS, open file descriptors, sockets and (PostgreSQL) the server's client
connections. Printed per database: ms per test of the first and the last `--window` tests of each
kind, and the growth of each resource from the first sample after `--window` database tests to
the last.
The targets: the last window within 5 % of the first, RSS growth under 50 MB, no growth in file
descriptors or server connections.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from isolation import INI, PLUGIN, ROOT, TEST
from test_clock import SKIP

from testsupport.postgres import embedded_server

PLAIN = """
async def test_plain_{i}(anyio_backend):
    assert anyio_backend == "asyncio"
"""
PER_MODULE = 500


def write_suite(folder: Path, tests: int) -> None:
    """``tests`` tests, half of each kind, alternating, in modules of PER_MODULE."""
    folder.mkdir(parents=True)
    (folder / "conftest.py").write_text(PLUGIN)
    (folder / "pytest.ini").write_text(
        "[pytest]\naddopts = -p no:asyncio -p no:schemathesis -p no:hypothesispytest\n" + INI
    )
    for start in range(0, tests // 2, PER_MODULE // 2):
        body = "".join(
            TEST.format(i=i) + PLAIN.format(i=i) for i in range(start, min(start + PER_MODULE // 2, tests // 2))
        )
        (folder / f"test_load_{start // (PER_MODULE // 2):03}.py").write_text(body)


def run(folder: Path, database: str, env: dict[str, str], trace: Path) -> list[tuple[str, float, list[int] | None]]:
    """The suite on one database: every test's (node id, set-up time, resources or None)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "benchmarks.test_clock"]
    # This database's tests and the plain ones: `not <other>` also took a third target's tests.
    cmd += ["-k", f"{database} or test_plain_", "--anyio-backends=asyncio"]
    result = subprocess.run(
        cmd, cwd=folder, env={**env, "TEST_CLOCK_TRACE": str(trace)}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"the {database} run failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    rows = []
    for line in trace.read_text().splitlines():
        nodeid, at, *sample = line.split()
        rows.append((nodeid, float(at), [int(v) for v in sample] if sample != ["-"] else None))
    return rows


def report(database: str, rows: list[tuple[str, float, list[int] | None]], window: int) -> None:
    # A test's cost: from its set-up to the next test's set-up (the last test has none).
    costs: dict[str, list[float]] = {"database": [], "plain": []}
    for (nodeid, at, _), (_, following, _) in itertools.pairwise(rows):
        costs["plain" if "test_plain_" in nodeid else "database"].append((following - at) * 1000)
    # As test_clock.py does: each kind's first tests (route compilation, first connections) are not load.
    costs = {kind: values[SKIP:] for kind, values in costs.items()}
    print(f"\n{database}: {len(rows)} tests")
    print("| tests | count | first ms/test | last ms/test | last / first |")
    print("|---|---|---|---|---|")
    for kind, values in costs.items():
        first, last = statistics.mean(values[:window]), statistics.mean(values[-window:])
        print(f"| {kind} | {len(values)} | {first:.3f} | {last:.3f} | {last / first - 1:+.1%} |")
    # From the first sample after `window` database tests (the session's engine, app and pool all
    # exist by then, whichever block pytest ran first) to the last.
    database_rows = [index for index, (nodeid, _, _) in enumerate(rows) if "test_plain_" not in nodeid]
    after = database_rows[min(window, len(database_rows) - 1)]
    samples = [(index, sample) for index, (_, _, sample) in enumerate(rows) if sample is not None]
    start = next(((i, s) for i, s in samples[:-1] if i >= after), samples[0])
    end = samples[-1]
    print(f"| resource | at test {start[0]} | at test {end[0]} | growth |")
    print("|---|---|---|---|")
    names = ("RSS MB", "open file descriptors", "sockets", "server connections")
    for column, name in enumerate(names):
        if start[1][column] < 0:
            continue
        scale = 1024 if column == 0 else 1  # RSS: kB to MB
        first_value, last_value = start[1][column] / scale, end[1][column] / scale
        print(f"| {name} | {first_value:.1f} | {last_value:.1f} | {last_value - first_value:+.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=10_000, help="tests per run, half database tests (default 10000)")
    parser.add_argument("--window", type=int, default=1000, help="tests compared at each end (default 1000)")
    args = parser.parse_args()
    window = min(args.window, args.tests // 4)

    work = Path(tempfile.mkdtemp(prefix="load-"))
    cleanup = contextlib.ExitStack()
    try:
        server = cleanup.enter_context(embedded_server())
        pg_url = server.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TESTSUPPORT_", "PYTEST_"))}
        env.update(TEST_POSTGRES_URL=pg_url, PYTHONPATH=str(ROOT), TESTSUPPORT_REQUIRE_POSTGRES="1", API_TOKEN="bench")  # noqa: S106
        write_suite(work / "suite", args.tests)
        for database in ("sqlite", "postgres"):
            run_env = {**env, "TEST_CLOCK_PG_URL": pg_url} if database == "postgres" else env
            report(database, run(work / "suite", database, run_env, work / f"{database}.trace"), window)
    finally:
        cleanup.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
