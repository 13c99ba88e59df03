"""When something runs the tests of the two backends interleaved (xdist's --dist loadfile sends a
module's asyncio and trio tests as one unit), each switch closes a loop and sets the session up
again: the run says so, and names the fix."""

from __future__ import annotations

import textwrap

import pytest

from tests.inner import run_inprocess
from tests.service_suite import use_service

# Runs after testsupport's own ordering (an outer wrapper): asyncio, trio, asyncio, trio.
INTERLEAVE = """
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items):
    yield
    items.sort(key=lambda item: item.name.endswith("[trio]"))
    half = len(items) // 2
    items[:] = [item for pair in zip(items[:half], items[half:]) for item in pair]
"""

TESTS = textwrap.dedent(
    """
    import pytest

    @pytest.mark.parametrize("n", range(2))
    async def test_no_database(anyio_backend, n):
        pass
    """
)


@pytest.mark.parametrize("interleaved", [False, True])
def test_loop_restarts_are_named_with_their_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, interleaved: bool
) -> None:
    use_service(pytester, INTERLEAVE if interleaved else "")
    pytester.makepyfile(test_inner=TESTS)
    result = run_inprocess(pytester, monkeypatch, "-v")
    result.assert_outcomes(passed=4)
    line = "testsupport: event loops started more than once in one process (*"
    if interleaved:
        result.stdout.fnmatch_lines(
            [
                "*test_no_database?asyncio-0?*",
                "*test_no_database?trio-0?*",
                "*test_no_database?asyncio-1?*",
                line.replace("(*", "(asyncio 2 times, trio 2 times)*use --dist load, its default"),
            ]
        )
    else:
        result.stdout.no_fnmatch_line(line)
