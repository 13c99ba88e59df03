"""Wall time of README.md's two test commands, as a new user runs them.

    uv run python benchmarks/suite.py [--runs 2] [--commit HEAD]

Clones the commit into a fresh folder (no .venv, no .pyc, no pytest cache), then times
`uv run pytest` (the first run includes uv creating the virtualenv and compiling bytecode) and
`uv run pytest -k sqlite`, each --runs times, with PYTHONDONTWRITEBYTECODE=1 as many CI images set
it. Prints one table; the clone is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv") or "uv"
GIT = shutil.which("git") or "git"
COMMANDS = (("uv run pytest", ["run", "pytest"]), ("uv run pytest -k sqlite", ["run", "pytest", "-k", "sqlite"]))


def timed(folder: Path, args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VIRTUAL_ENV", None)  # the clone's own .venv, never the caller's
    started = time.perf_counter()
    result = subprocess.run([UV, *args], cwd=folder, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else result.stderr.strip()[-200:]
    if result.returncode != 0:
        raise SystemExit(f"`uv {' '.join(args)}` failed ({result.returncode}): {summary}")
    return elapsed, re.sub(r"=+", "", summary).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--commit", default="HEAD")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-bench-") as tmp:
        folder = Path(tmp) / "clone"
        subprocess.run([GIT, "clone", "-q", str(ROOT), str(folder)], check=True)
        subprocess.run([GIT, "checkout", "-q", args.commit], cwd=folder, check=True)
        print("| command | run | wall s | pytest's summary |")
        print("|---|---|---|---|")
        for label, uv_args in COMMANDS:
            for run in range(1, args.runs + 1):
                elapsed, summary = timed(folder, uv_args)
                kind = "first (fresh clone)" if label == COMMANDS[0][0] and run == 1 else f"{run}"
                print(f"| `{label}` | {kind} | {elapsed:.1f} | {summary} |", flush=True)


if __name__ == "__main__":
    main()
