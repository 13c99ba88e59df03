"""Sphinx configuration for testsupport's documentation (pytest-fastapi-sqlalchemy).

Build (CI runs exactly this; -W -n: a warning, a broken link, anchor or reference fails it):
    uv run --group docs sphinx-build -W --keep-going -n -b html docs docs/_build/html

Why Sphinx + Furo + MyST-parser (checked 2026-12): Sphinx is released and maintained (9.2.0,
2026-10; 9.0 is its last for Python 3.11), Furo 2025.12.19, MyST-parser 5.2.0 (2026-11) lets the
pages stay Markdown. MkDocs' core had no release since 1.6.1 (2024-08) and its 2.0 drops the plugin
and theme system; Material for MkDocs is in maintenance mode (critical fixes only, until November
2026, squidfunk/mkdocs-material#8523), its authors moved on to Zensical (0.1). pytest and
pytest-django document with Sphinx, so a pytest user finds the same shape here. Sphinx's nitpicky
mode also checks the cross-references (keys, options, fixtures) that docs/_ext/ generates from the
source.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # testsupport, for the generated reference

project = "pytest-fastapi-sqlalchemy"
author = "the testsupport authors"
copyright = "2026, the testsupport authors"
release = "0.1.0"

extensions = ["myst_parser", "testsupport_ref"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Markdown: `#` headings get anchors (page.md#the-heading); ::: fences for directives.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]
# Docstrings (the fixture reference) are reStructuredText: `name` there is code, as in Markdown.
default_role = "literal"

nitpicky = True
suppress_warnings: list[str] = []

html_theme = "furo"
html_title = "pytest-fastapi-sqlalchemy"
html_static_path: list[str] = []
