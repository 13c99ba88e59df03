"""README.md is the front page: the factory block it shows is the documented one (docs/adoption.md,
which tests/adoption runs), and its links into docs/ point at pages that exist. Links inside docs/
are checked by the documentation build itself (nitpicky: a missing page or anchor fails it)."""

from __future__ import annotations

import re

from tests.adoption.apps import DOCS, README, ROOT, marked_blocks, readme_block


def test_readme_shows_the_documented_factory_block() -> None:
    assert marked_blocks("factory", README.read_text()) == [readme_block("factory")]


def test_readme_links_point_at_files_that_exist() -> None:
    targets = re.findall(r"\]\((?!https?://)([^)#]+)(?:#[^)]*)?\)", README.read_text())
    assert any(target.startswith("docs/") for target in targets)
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
    assert (DOCS / "adoption.md").exists()


def _printed_by_testsupport() -> str:
    """testsupport's source with adjacent string literals joined, as the messages print."""
    text = "\n".join(path.read_text() for path in sorted((ROOT / "testsupport").rglob("*.py")))
    return re.sub(r"\"\s*\n\s*f?\"", "", text)


def test_the_error_index_quotes_only_messages_testsupport_prints() -> None:
    page = (DOCS / "errors.md").read_text()
    section = page.split("## testsupport's own stops", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| the message")]
    quoted = [
        span
        for row in rows
        for pair in re.findall(r"``(.+?)``|`([^`]+)`", row.split(" | ")[0])
        for span in pair
        if span
    ]
    assert len(rows) >= 15
    assert quoted
    source = _printed_by_testsupport()
    missing = [fragment for fragment in quoted if fragment not in source]
    assert not missing, f"docs/errors.md quotes messages testsupport no longer prints: {missing}"
