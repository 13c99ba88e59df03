"""The pytest11 entry point: installed, testsupport is loaded by every pytest in the environment,
and stays inert until the project sets ``testsupport_app`` in its ini file.

Here: the switch. The command-line options and ini keys are testsupport.options' (an entry point
of its own, so ``-p no:testsupport.plugin`` leaves them known). When configured, pytest_configure
registers the fixture modules and the collection hooks; nothing else is imported before that, so
an unconfigured suite runs exactly as it would without it.
"""

from __future__ import annotations

import sys

import pytest

from testsupport.constants import BACKENDS, FIXTURES, KEYS, installed_backends

# Loaded with the plugin when it is named by -p (plugin autoload off) and not found by its entry point.
pytest_plugins = ["testsupport.options"]

FIXTURE_MODULES = (
    "testsupport.loop",
    "testsupport.databases",
    "testsupport.redact",
    "testsupport.engine",
    "testsupport.transaction",
    "testsupport.app",
    "testsupport.queries",
    "testsupport.collection",
    "testsupport.interrupt",
    "testsupport.migrations.runner",
    "testsupport.migrations.collect",
    "testsupport.old_fixtures",
)


def configured(config: pytest.Config) -> bool:
    """The switch: testsupport_app is set."""
    return bool(str(config.getini("testsupport_app") or "").strip())


def refuse_stray_settings(config: pytest.Config) -> None:
    """Without testsupport_app, testsupport would silently ignore its other keys and options."""
    stray = [key for key in KEYS if str(config.getini(key) or "").strip()]
    if stray:
        raise pytest.UsageError(
            f"{', '.join(stray)} set without testsupport_app, so testsupport would ignore them. Fix: set "
            "testsupport_app = 'package.module:app_or_factory' in [tool.pytest.ini_options], or remove them."
        )
    for option in ("--reuse-db", "--no-migrations", "--anyio-backends"):
        if config.getoption(option):
            raise pytest.UsageError(
                f"{option} is testsupport's, which is not configured here. Fix: set testsupport_app in "
                "[tool.pytest.ini_options], or drop the option."
            )


def refuse_misspelled_keys(config: pytest.Config) -> None:
    import difflib

    # pytest's own list (what --strict-config refuses); it only warns about them otherwise.
    unknown: set[str] = getattr(config, "_get_unknown_ini_keys", set)()
    for key in sorted(k for k in unknown if k.startswith("testsupport")):
        close = difflib.get_close_matches(key, KEYS, n=1)
        raise pytest.UsageError(
            f"{key} is not a testsupport key. Fix: "
            + (f"did you mean {close[0]}? " if close else "")
            + f"The keys are {', '.join(KEYS)}."
        )


def refuse_competing_plugins(config: pytest.Config) -> None:
    """testsupport runs async tests through anyio's plugin, on one loop for the session."""
    anyio_plugin = sys.modules.get("anyio.pytest_plugin")
    if anyio_plugin is None or not config.pluginmanager.is_registered(anyio_plugin):
        raise pytest.UsageError(
            "testsupport runs async tests through anyio's pytest plugin, which is not loaded (plugin "
            "discovery is off?). Fix: add -p anyio.pytest_plugin to addopts."
        )
    refuse_pytest_asyncio(config)


def refuse_pytest_asyncio(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("asyncio"):
        raise pytest.UsageError(
            "pytest-asyncio is active: it would run the async tests on loops of its own, not anyio's "
            "session loop (RuntimeError: Runner.run() cannot be called from a running event loop). Fix: "
            'addopts = ["-p", "no:asyncio"] in [tool.pytest.ini_options] (or uninstall it), and remove the '
            "asyncio_* keys; @pytest.mark.asyncio marks may stay (the summary counts them). Documentation: "
            'docs/adoption.md, "Coming from pytest-asyncio".'
        )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # The net before the first conftest.py is imported: an engine it (or the project's modules, when
    # the keys are resolved) builds is recorded, and a write at import is refused. A refused
    # configuration ends the run in pytest_unconfigure, which removes the net again.
    if configured(early_config):
        from testsupport import net

        net.install(early_config)


@pytest.hookimpl(tryfirst=True, specname="pytest_configure")
def pytest_configure_before_pytest_asyncio(config: pytest.Config) -> None:
    # tryfirst: before pytest-asyncio's own pytest_configure, whose deprecation warning (its
    # asyncio_default_fixture_loop_scope unset) is an INTERNALERROR under filterwarnings = error.
    # A second pytest_configure, so its name is pytest_*: pytest takes only those as hooks. The trylast
    # check below still sees a plugin a conftest registers in its own pytest_configure.
    if configured(config):
        refuse_pytest_asyncio(config)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # trylast: after conftest.py files and `pythonpath` have put the project on sys.path.
    refuse_misspelled_keys(config)
    if not configured(config):
        refuse_stray_settings(config)  # and nothing else is imported: an unconfigured run pays nothing
        return
    refuse_competing_plugins(config)
    from testsupport import config as settings

    loaded = settings.load(config)  # imports the project's modules: the net is on already
    import importlib

    from testsupport import collection

    option = config.getoption("--anyio-backends")
    chosen = installed_backends() if option is None else [b.strip() for b in option.split(",") if b.strip()]
    if not chosen or set(chosen) - set(BACKENDS):
        raise pytest.UsageError(
            f"--anyio-backends={option}: takes a comma-separated subset of {','.join(BACKENDS)}. Fix: e.g. "
            "--anyio-backends=asyncio"
        )
    absent = [backend for backend in chosen if backend not in installed_backends()]
    if absent:
        raise pytest.UsageError(
            f"--anyio-backends={option}: {', '.join(absent)} is not installed. Fix: pip install {' '.join(absent)}, "
            "or leave it out of --anyio-backends"
        )
    collection.start(config, loaded, chosen)
    for name in FIXTURE_MODULES:
        config.pluginmanager.register(importlib.import_module(name), f"testsupport:{name}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Not configured, and tests ask for testsupport's fixtures: their failure names the keys."""
    if configured(config):
        return
    for item in items:  # cheap: no import unless a test asks for one of testsupport's fixtures
        info = getattr(item, "_fixtureinfo", None)
        if info is not None and any(n in FIXTURES and n not in info.name2fixturedefs for n in info.names_closure):
            from testsupport.unconfigured import Pointer

            config.pluginmanager.register(Pointer(config), "testsupport.unconfigured")
            return
