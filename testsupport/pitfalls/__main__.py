"""``python -m testsupport.pitfalls list`` / ``show NAME [NAME ...]`` / ``show --all``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from testsupport.pitfalls import PITFALLS
from testsupport.pitfalls.run import mariadb_for_pitfalls, postgres_for_pitfalls, render, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testsupport.pitfalls", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every pitfall with its symptom")
    show = commands.add_parser("show", help="run a pitfall's wrong setup and its fix, and print both")
    show.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(PITFALLS)}")
    show.add_argument("--all", action="store_true", help="every pitfall")
    args = parser.parse_args(argv)
    if args.command == "list":
        width = max(map(len, PITFALLS))
        for pitfall in PITFALLS.values():
            print(f"{pitfall.name:{width}}  {pitfall.symptom}")
        print(f"\nShow one: python -m testsupport.pitfalls show NAME   (e.g. {next(iter(PITFALLS))})")
        return 0
    names = list(PITFALLS) if args.all else args.names
    unknown = [n for n in names if n not in PITFALLS]
    if not names or unknown:
        parser.error(f"name a pitfall (unknown: {', '.join(unknown) or 'none given'}); see `list`")
    chosen = [PITFALLS[n] for n in names]
    with contextlib.ExitStack() as stack:
        url = ""
        if any(p.postgres for p in chosen):
            print("starting a throwaway PostgreSQL ...", file=sys.stderr, flush=True)
            url = stack.enter_context(postgres_for_pitfalls())
        mariadb_url = None
        if any(p.mariadb for p in chosen):
            print("starting a throwaway MariaDB ...", file=sys.stderr, flush=True)
            mariadb_url = stack.enter_context(mariadb_for_pitfalls())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pitfalls-")))
        runs = run(chosen, url or None, work, mariadb_url=mariadb_url)
        print("\n\n".join(render(p, runs, url) for p in chosen), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
