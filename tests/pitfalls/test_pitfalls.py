"""Each wrong setup, run as a small suite of its own: it fails with the error users meet; the
fixed setup next to it passes. The suites are in tests/pitfalls/suites.py."""

from __future__ import annotations

import pytest

from tests.pitfalls.suites import PITFALLS, Pitfall
from tests.service_suite import use_service


@pytest.fixture
def pitfall_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    pitfall: Pitfall = PITFALLS[request.node.callspec.params["name"]]
    if pitfall.postgres:
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('pitfall') / 'db.sqlite'}"


def run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str, pitfall: Pitfall, suite: str
) -> pytest.RunResult:
    monkeypatch.setenv("PITFALL_URL", url)
    pytester.makepyfile(test_suite=suite)
    args = ["-p", "no:asyncio", "-p", "no:cacheprovider", "-s"]
    if pitfall.conftest:  # a suite on testsupport itself: its SQLite target only
        use_service(pytester, pitfall.conftest)
        args += ["-k", "sqlite"]
    return pytester.runpytest_subprocess(*args)


@pytest.mark.parametrize("name", list(PITFALLS))
def test_wrong_setup_fails_as_documented(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, pitfall_url: str, name: str
) -> None:
    pitfall = PITFALLS[name]
    result = run(pytester, monkeypatch, pitfall_url, pitfall, pitfall.wrong)
    result.assert_outcomes(**pitfall.outcome)
    result.stdout.fnmatch_lines(pitfall.errors, consecutive=False)


@pytest.mark.parametrize("name", list(PITFALLS))
def test_fixed_setup_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, pitfall_url: str, name: str
) -> None:
    pitfall = PITFALLS[name]
    result = run(pytester, monkeypatch, pitfall_url, pitfall, pitfall.right)
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes().get("failed", 0) == 0
