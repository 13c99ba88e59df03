"""Setups that used to say nothing, or the wrong thing (issue 21, part 3): each now stops the run,
or prints a line, that names the fix. Outside projects configured only by the documented keys,
plugins found by their entry points as in an adopter's run."""

from __future__ import annotations

import pytest

from tests.adoption.apps import FACTORY_APP, readme_block, write
from tests.inner import run_inprocess

# As in test_adoption.py: the inner runs autoload plugins; pytest-randomly would shuffle their order.
BASE = ("-p", "no:asyncio", "-p", "no:cacheprovider", "-p", "no:randomly")
FACTORY_KEYS = readme_block("factory")


@pytest.fixture(autouse=True)
def _app_importable(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert()


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    return run_inprocess(pytester, monkeypatch, *BASE, *args, autoload=True)


def summary_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("testsupport:")]


# (c) The documented way to turn the plugin off, with --strict-config.
PLAIN_TEST = {"test_plain.py": "def test_plain():\n    pass\n"}


def test_plugin_off_keeps_its_keys_known_under_strict_config(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: `ERROR: Unknown config option: testsupport_alembic_config`.
    write(pytester, {**FACTORY_APP, **PLAIN_TEST}, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "-p", "no:testsupport.plugin", "--strict-config", "-k", "test_plain")
    result.assert_outcomes(passed=1, deselected=4)  # testsupport's parametrization is off: 4 tests, not 20
    assert summary_lines(result) == []


def test_without_plugin_autoload_the_options_module_keeps_the_keys_known(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {**FACTORY_APP, **PLAIN_TEST}, FACTORY_KEYS)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_inprocess(*BASE, "-p", "testsupport.options", "--strict-config", "test_plain.py")
    result.assert_outcomes(passed=1)
    refused = pytester.runpytest_inprocess(*BASE, "--strict-config", "test_plain.py")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR  # pytest's own, nothing of testsupport loaded to prevent it
    refused.stderr.fnmatch_lines(["ERROR: Unknown config option: testsupport_*"])
