"""Run pitfall suites, many per pytest session, and render one pitfall for a person to read."""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from testsupport.pitfalls import Pitfall

SUITES = Path(__file__).parent / "suites"
HARNESS = Path(__file__).parent / "harness.py"
# Plugins named, none discovered (PYTEST_DISABLE_PLUGIN_AUTOLOAD in _start): a suite gets anyio's,
# and testsupport's where its pytest.ini configures it, whatever else is installed: pytest-randomly
# would shuffle tests whose order is the point of several pitfalls, pytest-asyncio would claim the
# async tests, and an installed Schemathesis and Hypothesis cost ~2 s per session (their ~290
# modules imported, and recompiled by assertion rewriting where PYTHONDONTWRITEBYTECODE is set).
# -p no:cacheprovider: nothing written next to the suites.
# --import-mode=importlib: the wrong and fixed suites share a file name.
# --tb=native: Python's own traceback. pytest's default style parses each frame's source file
# (SQLAlchemy's are long), which took three quarters of the session's time.
PYTEST_ARGS = (
    "--tb=native",
    "--import-mode=importlib",
    "-p",
    "anyio.pytest_plugin",
    "-p",
    "no:cacheprovider",
    "-v",
    "-o",
    "junit_logging=all",
)
OUTCOMES = ("passed", "failed", "errors", "skipped")
# A pitfall's wrong suite run again with testsupport off (Pitfall.settings_database): its key in run()'s result.
UNGUARDED = " (without testsupport)"


@dataclass
class Case:
    name: str  # test_query[1]
    outcome: str  # passed, failed, errors or skipped
    text: str  # the failure as pytest prints it, then the captured output and log


@dataclass
class SuiteRun:
    folder: str
    cases: list[Case] = field(default_factory=list)
    session_output: str = ""  # the whole pytest session's terminal output, for diagnosis
    rows_after: list[str] = field(default_factory=list)  # Pitfall.settings_rows after the session

    def outcome(self) -> dict[str, int]:
        counts = Counter(case.outcome for case in self.cases)
        return {key: counts[key] for key in OUTCOMES if counts[key]}

    def lines(self) -> list[str]:
        return [line for case in self.cases for line in case.text.splitlines()]

    def report(self) -> str:
        """The suite's own results, for an assertion message (the whole session's if it has none)."""
        if not self.cases:
            return self.session_output
        return "\n".join(f"--- {case.name} {case.outcome}\n{case.text}" for case in self.cases)


def suite_file(folder: str) -> Path:
    (path,) = (SUITES / folder).glob("test_*.py")
    return path


def run(
    pitfalls: Iterable[Pitfall],
    postgres_url: str | None,
    work: Path,
    timeout: float = 300.0,
    mariadb_url: str | None = None,
) -> dict[str, SuiteRun]:
    """Run the wrong and fixed suites of ``pitfalls`` (PostgreSQL ones on ``postgres_url``, MariaDB
    ones on ``mariadb_url``) under
    ``work``; returns each suite's run by folder. The pytest sessions run side by side: one for
    every plain suite, one for each suite on testsupport itself. A session still running after
    ``timeout`` seconds (a pitfall that hangs) is killed; its suites have no cases then."""
    chosen = list(pitfalls)
    plain = sorted({f for p in chosen if not p.testsupport for f in (p.wrong, p.fixed)})
    if postgres_url is None and any(p.postgres for p in chosen):
        raise ValueError("the PostgreSQL pitfalls need postgres_url")
    if mariadb_url is None and any(p.mariadb for p in chosen):
        raise ValueError("the MariaDB pitfalls need mariadb_url")
    database = {
        folder: mariadb_url if p.mariadb else postgres_url if p.postgres else None
        for p in chosen
        for folder in (p.wrong, p.fixed)
    }
    # Each session: its process, its folder, and which run each of its suite folders reports to.
    sessions: list[tuple[subprocess.Popen[str], Path, dict[str, str], str]] = []
    if plain:
        root = work / "suites"
        urls = {}
        for folder in plain:
            shutil.copytree(SUITES / folder, root / folder)
            urls[folder] = database[folder] or f"sqlite+aiosqlite:///{root / folder / 'db.sqlite'}"
        shutil.copy(SUITES / "myapp.py", root)
        shutil.copy(HARNESS, root / "conftest.py")
        (root / "urls.json").write_text(json.dumps(urls))
        (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
        sessions.append((_start(root, plain, [], {}), root, {f: f for f in plain}, ""))
    for pitfall in (p for p in chosen if p.testsupport):
        base = pitfall.wrong.split("/")[0]
        wrong, fixed = (f.removeprefix(base + "/") for f in (pitfall.wrong, pitfall.fixed))
        guarded = {wrong: pitfall.wrong, fixed: pitfall.fixed}
        # With testsupport (its `select`: e.g. only the SQLite target), and, for a pitfall about the
        # database the app's settings name, the wrong suite again with testsupport off.
        variants = [(base, guarded, ["-p", "testsupport.plugin", *pitfall.select])]
        if pitfall.settings_database:
            variants.append((base + "-unguarded", {wrong: pitfall.wrong + UNGUARDED}, []))
        for name, reports, extra in variants:
            root = work / name
            shutil.copytree(SUITES / base, root)
            shutil.copy(SUITES / "myapp.py", root)
            env = {}
            if pitfall.settings_database:
                env["DATABASE_URL"] = settings_database(root / "settings.db", pitfall.settings_database)
            sessions.append((_start(root, list(reports), extra, env), root, reports, pitfall.settings_rows))
    runs: dict[str, SuiteRun] = {}
    for process, root, reports, rows_query in sessions:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0] + f"\n(killed after {timeout:.0f} s)"
        rows = _rows(root / "settings.db", rows_query) if rows_query else []
        for key in reports.values():
            runs[key] = SuiteRun(key.removesuffix(UNGUARDED), session_output=output)
            runs[key].rows_after = rows
        junit = root / "junit.xml"
        if junit.exists():
            for folder, case in _cases(ET.parse(junit).getroot()):  # noqa: S314 (written by our own pytest)
                if folder in reports:
                    runs[reports[folder]].cases.append(case)
    return runs


def settings_database(path: Path, statements: Iterable[str]) -> str:
    """A SQLite file made by ``statements``: the database an app's settings name (the developer's
    own, with rows of its own); its URL, for DATABASE_URL."""
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        for statement in statements:
            connection.execute(statement)
    return f"sqlite+aiosqlite:///{path}"


def _rows(path: Path, query: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return [repr(row) for row in connection.execute(query)]


def _start(root: Path, folders: list[str], extra: list[str], database: dict[str, str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PITFALL"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("DATABASE_URL", None)
    env.update(database)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *PYTEST_ARGS,
        f"--junitxml={root / 'junit.xml'}",
        f"--basetemp={root / 'tmp'}",  # the suites' tmp_path inside ``work`` too
        *extra,
        *folders,
    ]
    return subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _cases(tree: ET.Element) -> Iterator[tuple[str, Case]]:
    for element in tree.iter("testcase"):
        classname = element.get("classname", "")
        folder = "/".join(classname.split(".")[:-1])
        outcome, texts = "passed", list[str]()
        for child in element:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "errors"
                texts.append(child.text or child.get("message") or "")
            elif child.tag == "skipped":
                outcome = "skipped"
                texts.append(child.get("message") or "")
            elif child.tag in ("system-out", "system-err"):
                texts.append(child.text or "")
        yield folder, Case(element.get("name", ""), outcome, "\n".join(texts))


@contextmanager
def postgres_for_pitfalls() -> Iterator[str]:
    """A throwaway PostgreSQL for ``show`` (the embedded one), stopped at the end."""
    from testsupport import postgres

    with postgres.embedded_server() as server:
        yield server.create_database("pitfalls")


@contextmanager
def mariadb_for_pitfalls() -> Iterator[str]:
    """A throwaway MariaDB for ``show`` (from the binaries on PATH), stopped at the end."""
    from testsupport import mariadb

    with mariadb.embedded_server() as server:
        yield server.create_database("pitfalls")


# -- rendering -------------------------------------------------------------------------------------


def render(pitfall: Pitfall, runs: dict[str, SuiteRun], url: str) -> str:
    """What ``show`` prints: the wrong setup's lines that matter, its run with the real error, the
    fix as a diff, and the fix's run."""
    wrong, fixed = suite_file(pitfall.wrong), suite_file(pitfall.fixed)
    wrong_lines = wrong.read_text().splitlines()
    fixed_lines = fixed.read_text().splitlines()
    where = (
        "MariaDB through aiomysql"
        if pitfall.mariadb
        else "PostgreSQL through asyncpg"
        if pitfall.postgres
        else "a SQLite file through aiosqlite, no server"
    )
    out = [f"{pitfall.name}: {pitfall.title}", f"symptom: {pitfall.symptom}", f"runs on: {where}", ""]
    out.append(f"== The wrong setup ({wrong.name}; `-` marks what the fix changes) ==")
    out += _wrong_view(wrong_lines, fixed_lines)
    unguarded = runs.get(pitfall.wrong + UNGUARDED)
    if unguarded is not None:
        out += [
            "",
            f"== Without testsupport: pytest -v -p no:testsupport.plugin {wrong.name} ==",
            *_run_view(unguarded, []),
            *_rows_view(unguarded),
        ]
    configured = " (testsupport configured in pytest.ini)" if unguarded is not None else ""
    out += ["", f"== Its run: pytest -v --tb=native {wrong.name}{configured} =="]
    out += [*_run_view(runs[pitfall.wrong], pitfall.patterns(url))]
    if unguarded is not None:
        out += _rows_view(runs[pitfall.wrong])
    out += ["", "== The fix ==", *_diff_view(wrong_lines, fixed_lines, f"wrong/{wrong.name}", f"fixed/{fixed.name}")]
    out += ["", f"== Its run: pytest -v --tb=native {fixed.name} ==", *_run_view(runs[pitfall.fixed], [])]
    return "\n".join(out) + "\n"


def _wrong_view(wrong: list[str], fixed: list[str]) -> list[str]:
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=wrong, b=fixed, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        if out:
            out.append("     ...")
        for tag, i1, i2, _, _ in group:
            for i in range(i1, i2):
                mark = " " if tag == "equal" else "-"
                out.append(f"{i + 1:4} {mark} {wrong[i]}".rstrip())
    return out


def _diff_view(wrong: list[str], fixed: list[str], wrong_name: str, fixed_name: str) -> list[str]:
    return list(difflib.unified_diff(wrong, fixed, wrong_name, fixed_name, n=2, lineterm=""))


def _run_view(run: SuiteRun, patterns: list[str]) -> list[str]:
    if not run.cases:
        return ["(the suite did not run; pytest said:)", *run.session_output.splitlines()[-30:]]
    out: list[str] = []
    name = Path(suite_file(run.folder)).name
    for case in run.cases:
        out.append(f"{name}::{case.name} {case.outcome.upper().removesuffix('S')}")
        if case.outcome in ("failed", "errors"):
            out += [f"    {line.strip()}" for line in _relevant(case.text.splitlines(), patterns)]
    outcome = run.outcome()
    out.append(", ".join(f"{n} {key}" for key, n in outcome.items()))
    return out


def _rows_view(run: SuiteRun) -> list[str]:
    return [
        "the database DATABASE_URL names (the app's settings) now holds:",
        *(f"    {row}" for row in run.rows_after),
    ]


def _relevant(lines: list[str], patterns: list[str]) -> list[str]:
    """The lines that match the pitfall's patterns, each once; else the exception's first line."""
    picked: list[str] = []
    for line in lines:
        if any(fnmatch.fnmatch(line, p) for p in patterns) and line.strip() not in {x.strip() for x in picked}:
            picked.append(line)
    if not picked:  # the exception line: the first unindented line after a traceback header
        after = (
            lines[lines.index("Traceback (most recent call last):") :]
            if "Traceback (most recent call last):" in lines
            else lines
        )
        picked = [line for line in after[1:] if line and not line[0].isspace()][:1]
    return picked
