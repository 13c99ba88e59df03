"""What the loop guard costs: median time of a pool checkout + checkin, with and without it.

uv run python benchmarks/guard_cost.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from testsupport.guard import install_loop_guard

# The demo app is not installed: benchmarks/ is sys.path[0] when run as a script, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from service.db import make_engine

CHECKOUTS = 10_000
ROUNDS = 5


async def per_checkout_us(guard: bool) -> float:
    engine = make_engine("sqlite+aiosqlite://")
    if guard:
        install_loop_guard(engine)
    async with engine.connect():
        pass  # open the pooled connection first
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CHECKOUTS):
            async with engine.connect():
                pass
        rounds.append((time.perf_counter() - started) / CHECKOUTS * 1e6)
    await engine.dispose()
    return statistics.median(rounds)


def main() -> None:
    without, with_guard = asyncio.run(per_checkout_us(False)), asyncio.run(per_checkout_us(True))
    print(f"| checkout + checkin ({CHECKOUTS} x {ROUNDS}, median) | us |")
    print("|---|---|")
    print(f"| without guard | {without:.1f} |")
    print(f"| with guard | {with_guard:.1f} |")
    print(f"| difference | {with_guard - without:+.1f} |")


if __name__ == "__main__":
    main()
