"""Resolving the ``testsupport_*`` keys' ``'package.module:attribute'`` values: every failure a
``pytest.UsageError`` that names the key, the part that failed and the fix."""

from __future__ import annotations

import importlib
import site
import sys
import traceback
from typing import Any

import pytest


def usage_error(key: str, value: str, problem: str, fix: str) -> pytest.UsageError:
    return pytest.UsageError(f"{key} = {value!r}: {problem}. Fix: {fix}")


def _raised_at(exc: BaseException) -> str:
    """Where the project's code raised: the innermost frame outside Python and installed packages."""
    installed = (sys.prefix, sys.base_prefix, *site.getsitepackages())
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and not f.filename.startswith(installed)
    ]
    return f"at {frames[-1].filename}:{frames[-1].lineno}" if frames else "during the import"


def resolve(key: str, value: str) -> Any:
    """Import ``package.module:attr.sub``; every failure names the key, the part and the fix."""
    module_name, sep, attribute = value.partition(":")
    if not sep or not module_name or not attribute:
        raise usage_error(key, value, "not an import path", "write it as 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name is not None and module_name != exc.name and not module_name.startswith(exc.name + "."):
            # The module exists; something it imports does not.
            raise usage_error(
                key,
                value,
                f"importing {module_name!r} raised {type(exc).__name__}: {exc} ({_raised_at(exc)})",
                f"install {exc.name.split('.')[0]!r} in this environment, or fix that import",
            ) from None
        raise usage_error(
            key,
            value,
            f"cannot import module {module_name!r} ({type(exc).__name__}: {exc})",
            "check the spelling, and that the package is installed in this environment or on pytest's "
            "`pythonpath` ini key",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any error importing the user's module is a configuration error
        raise usage_error(
            key,
            value,
            f"importing {module_name!r} raised {type(exc).__name__}: {exc} ({_raised_at(exc)})",
            "fix that module's import",
        ) from None
    done = module_name
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise usage_error(
                key, value, f"{done!r} has no attribute {part!r}", f"name an attribute that exists in {module_name}"
            ) from None
        done = f"{done}:{part}" if done == module_name else f"{done}.{part}"
    return obj
