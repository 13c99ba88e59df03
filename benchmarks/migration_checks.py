"""What testsupport's migration checks cost per database target on this repository's migrations:
each check's set-up (a new empty database), call and teardown, from pytest's --durations, median of
several runs of `pytest -k testsupport-migration-checks` in one process (the embedded server's
start, paid once by any run that uses PostgreSQL, is left out: it is the first set-up).

uv run python benchmarks/migration_checks.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(\d+\.\d+)s (setup|call|teardown) +\S+::(test_migrations_\w+)\[asyncio-(\w+)\]$")


def one_run() -> dict[str, dict[str, float]]:
    """Seconds per target and check (set-up + call + teardown) in one run."""
    command = [sys.executable, "-m", "pytest", "-n0", "-q", "-k", "testsupport-migration-checks"]
    output = subprocess.run(
        [*command, "--durations=0", "--durations-min=0"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    costs: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    first_postgres_setup = True
    for line in output.splitlines():
        match = LINE.match(line.strip())
        if not match:
            continue
        seconds, phase, check, target = float(match[1]), match[2], match[3], match[4]
        if target == "postgres" and phase == "setup" and check == "test_migrations_stairway" and first_postgres_setup:
            first_postgres_setup = False
            continue  # includes starting the embedded server
        costs[target][check] += seconds
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = [one_run() for _ in range(parser.parse_args().rounds)]
    checks = sorted({check for run in rounds for target in run.values() for check in target})
    targets = sorted({target for run in rounds for target in run})
    print(f"| check (median of {len(rounds)} runs, ms) | " + " | ".join(targets) + " |")
    print("|---|" + "---:|" * len(targets))
    for check in [*checks, "total"]:
        cells = []
        for target in targets:
            values = [sum(run[target].values()) if check == "total" else run[target].get(check, 0.0) for run in rounds]
            cells.append(f"{1000 * statistics.median(values):.0f}")
        print(f"| {check} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
