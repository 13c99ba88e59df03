"""Two outside apps, as files for pytester (read from examples/), and the documented configuration
for each (docs/adoption.md).

``factory``: a small app with its own models, built by a factory whose lifespan makes its own
sessionmaker unless given one, with Alembic migrations (env.py shares the connection it is handed).
``module_global``: an app object whose engine and sessionmaker are module globals built from
settings at import time, as in the FastAPI full-stack template; its schema from the models.
Neither has a conftest.py: the documented ini keys are all the glue. Each is an example a user can
copy (examples/NAME/README.md); tests/adoption/test_examples.py runs each as it stands.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def marked_blocks(name: str, text: str) -> list[str]:
    """Every fenced block after ``<!-- adoption: NAME -->`` in ``text``, verbatim."""
    return re.findall(rf"<!-- adoption: {re.escape(name)} -->\s*```\w*\n(.*?)```", text, re.DOTALL)


def readme_block(name: str) -> str:
    """The fenced block after ``<!-- adoption: NAME -->`` in the documentation (docs/*.md: the
    adoption blocks on adoption.md, the recipes on their topic's page), verbatim. Exactly one page
    holds it (README.md repeats the factory block: tests/adoption/test_docs.py)."""
    pages = sorted(DOCS.glob("*.md"))
    found = [(page.name, block) for page in pages for block in marked_blocks(name, page.read_text())]
    assert len(found) == 1, f"docs/*.md must hold one block marked <!-- adoption: {name} -->, found it in {found}"
    return found[0][1]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# What a run of an example leaves behind, never part of it.
_LEFT_BY_A_RUN = {"__pycache__", ".pytest_cache", ".venv"}


def example_files(name: str) -> dict[str, str]:
    """examples/NAME as pytester's folder gets it: {relative path: text}, every file but its
    pyproject.toml (each test gives its ini) and what a run of it leaves behind."""
    root = EXAMPLES / name
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.name != "pyproject.toml"
        and path.suffix not in {".pyc", ".db"}
        and not _LEFT_BY_A_RUN & set(path.relative_to(root).parts)
    }


FACTORY_APP = example_files("factory")
FACTORY_TESTS = "tests/test_items.py"
MODULE_GLOBAL_APP = example_files("module_global")
MODULE_GLOBAL_TESTS = "tests/test_users.py"
assert FACTORY_TESTS in FACTORY_APP
assert MODULE_GLOBAL_TESTS in MODULE_GLOBAL_APP


def write(pytester: pytest.Pytester, files: dict[str, str], ini: str) -> None:
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    pytester.makepyprojecttoml(ini)
