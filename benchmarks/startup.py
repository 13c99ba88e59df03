"""Start-up costs: from `uv run pytest -k sqlite` to its first test, and PostgreSQL's start.

uv run python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv") or "uv"


def first_test_seconds(*args: str) -> float:
    with tempfile.NamedTemporaryFile(suffix=".t") as marker:
        env = {**os.environ, "FIRST_TEST_FILE": marker.name, "PYTHONPATH": str(ROOT)}
        started = time.time()
        subprocess.run(
            [UV, "run", "pytest", "-q", "-x", "-p", "benchmarks.first_test", "-p", "no:cacheprovider", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
        return min(float(line) for line in Path(marker.name).read_text().split()) - started


def postgres_report(*args: str) -> tuple[float, float]:
    result = subprocess.run(
        [
            UV,
            "run",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "postgres",
            "tests/integration/test_users.py",
            "-n0",  # one process reports the server's start; workers would only add their own start-up
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"started in (\d+) ms.*template \w+ in (\d+) ms", result.stdout)
    assert match, result.stdout[-2000:]
    return int(match[1]) / 1000, int(match[2]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    first = [first_test_seconds("-k", "sqlite") for _ in range(args.repeat)]
    one_process = [first_test_seconds("-k", "sqlite", "-n0") for _ in range(args.repeat)]
    cold = [postgres_report() for _ in range(args.repeat)]
    postgres_report("--reuse-db")  # make sure the kept cluster and template exist
    warm = [postgres_report("--reuse-db") for _ in range(args.repeat)]
    print(f"| start-up ({args.repeat} runs, median) | seconds |")
    print("|---|---|")
    print(f"| `uv run pytest -k sqlite` to its first test (xdist: -n auto) | {statistics.median(first):.2f} |")
    print(f"| `uv run pytest -k sqlite -n0` to its first test (one process) | {statistics.median(one_process):.2f} |")
    for label, runs in (("cold", cold), ("warm, --reuse-db", warm)):
        server = statistics.median(r[0] for r in runs)
        template = statistics.median(r[1] for r in runs)
        total = f"{server:.3f} + {template:.3f} = {server + template:.3f}"
        print(f"| embedded PostgreSQL, {label}: server + template = total | {total} |")


if __name__ == "__main__":
    main()
