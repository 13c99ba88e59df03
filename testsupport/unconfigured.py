"""A run where testsupport is installed but not configured, and tests ask for its fixtures: they
fail with pytest's ``fixture 'client' not found``, and that failure also names the keys that
turn testsupport on and where they go. Loaded by the entry point only in such a run; it defines no
fixture, so a suite with its own ``client`` (or another plugin's) never gets here."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from testsupport.constants import FIXTURES


def where_keys_go(config: pytest.Config) -> str:
    """The ini file and section the keys belong in."""
    path = config.inipath
    if path is None:
        return f"[tool.pytest.ini_options] of {config.rootpath / 'pyproject.toml'}"
    section = "[tool.pytest.ini_options]" if path.name == "pyproject.toml" else "[pytest]"
    if path.name == "setup.cfg":
        section = "[tool:pytest]"
    return f"{section} of {path}"


def pointer(config: pytest.Config, name: str) -> str:
    return (
        f"testsupport: {name!r} is testsupport's fixture, and testsupport is installed but not configured here "
        f"(testsupport_app is not set). Fix: name your app in {where_keys_go(config)}: "
        "testsupport_app = 'pkg.main:create_app' (the app, or its factory taking engine= and/or sessionmaker=), "
        "testsupport_sessionmaker = 'pkg.db:make_sessionmaker' (where the handlers get their sessions), and the "
        "schema: testsupport_alembic_config = 'alembic.ini' and/or testsupport_metadata = 'pkg.models:Base.metadata'"
    )


class Pointer:
    """Appends the pointer to a setup failure about one of testsupport's fixtures."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        # pytest's FixtureLookupErrorRepr: its errorstring is printed as the failure's `E` lines.
        name = getattr(report.longrepr, "argname", None)
        if call.when == "setup" and report.failed and name in FIXTURES and hasattr(report.longrepr, "errorstring"):
            report.longrepr.errorstring += "\n" + pointer(self.config, name)  # type: ignore[union-attr]
        return report
