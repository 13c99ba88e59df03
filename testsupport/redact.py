"""Passwords never leave the process: URLs that carry one print with it hidden.

Two layers:

- ``SecretURL``, the type of every database URL fixture (``database_url``, ``postgres_url``, ...):
  a ``str`` whose ``repr`` hides the password. pytest shows fixture values with ``repr`` (the
  arguments of each traceback frame, ``-l``'s locals, assertion messages), so a failing test
  shows ``postgresql+asyncpg://app:***@host/db``. ``str()`` and the characters are the real URL:
  SQLAlchemy's ``make_url``, asyncpg and ``os.environ`` read the characters, never ``repr``.
- Every report (what the terminal, ``--junitxml``, xdist and the summary print) is scrubbed
  before anyone sees it: a password in any URL, and each known password written as a quoted
  value (``password = 'pw'`` in a driver's frame), become ``***``. That covers a URL the test
  built itself (``database_url + "?x=1"`` is a plain ``str``), an assertion's diff, captured
  output and ``record_property``. Output written straight to the terminal (``-s``) is not a
  report and is not scrubbed.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Generator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy.engine import make_url

from testsupport.pg.userserver import URL_ENV

HIDDEN = "***"  # what SQLAlchemy's render_as_string(hide_password=True) writes
# scheme://user:PASSWORD@ (RFC 3986 userinfo: an @ or / in a password is percent-encoded), so
# https://host:443/users/@me keeps its port.
_IN_URL = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:'\"]*:)[^\s/@'\"]+(?=@)")
_known: set[str] = set()


def hidden(url: str) -> str:
    """``url`` with its password shown as ``***`` (any URL, parsable or not)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a SQLAlchemy URL: the generic pattern still applies
        return _IN_URL.sub(rf"\g<head>{HIDDEN}", url)


def remember(url: str | None) -> None:
    """Scrub ``url``'s password from every report of this process from now on."""
    if not url:
        return
    try:
        password = make_url(url).password
    except Exception:  # noqa: BLE001 - a URL that does not parse: its errors never show it
        return
    if password:
        _known.add(str(password))


class SecretURL(str):
    """A database URL whose ``repr`` hides the password; its value is the real URL."""

    __slots__ = ()

    def __new__(cls, url: str) -> SecretURL:
        remember(url)
        return super().__new__(cls, url)

    def __repr__(self) -> str:
        return repr(hidden(self))


def scrub(text: str) -> str:
    """``text`` without a password: none in a URL, no known one as a quoted value."""
    text = _IN_URL.sub(rf"\g<head>{HIDDEN}", text)
    for password in _known:
        # Only quoted: a weak password ("postgres") also spells words the report needs.
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            for q in "'\"":
                text = text.replace(f"{q}{form}{q}", f"{q}{HIDDEN}{q}")
    return text


def _scrubbed(value: Any) -> Any:
    """``value`` scrubbed: strings, and the lists, tuples and dataclasses (pytest's report parts:
    ExceptionChainRepr, ReprEntry, ReprFuncArgs, ReprLocals, ...) that hold them, in place where
    they are mutable. Anything else is returned as is."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        value[:] = [_scrubbed(item) for item in value]
        return value
    if isinstance(value, tuple):
        items = [_scrubbed(item) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Every attribute, not only the fields: CollectErrorRepr sets its own in __init__.
        for name, current in list(vars(value).items()):
            new = _scrubbed(current)
            if new is not current:
                object.__setattr__(value, name, new)
        return value
    return value


def scrub_report(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.longrepr is not None:
        if dataclasses.is_dataclass(report.longrepr) or isinstance(report.longrepr, (str, tuple)):
            report.longrepr = _scrubbed(report.longrepr)
        else:  # a TerminalRepr of another shape: as text, only if that changes it
            text = str(report.longrepr)
            if scrub(text) != text:
                report.longrepr = scrub(text)
    if report.sections:
        report.sections = [(title, scrub(content)) for title, content in report.sections]
    if isinstance(report, pytest.TestReport) and report.user_properties:
        report.user_properties = [(name, _scrubbed(value)) for name, value in report.user_properties]


def pytest_configure(config: pytest.Config) -> None:
    # In every process of the run (xdist workers read the environment too): a failure before
    # any fixture wrapped the URL (connecting to the server, say) is scrubbed as well.
    remember(os.environ.get(URL_ENV))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    scrub_report(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report() -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    scrub_report(report)
    return report
