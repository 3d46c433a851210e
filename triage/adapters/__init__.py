"""Adapters: build a ``triage.Task`` from another library's way of organising training. Each
imports its library only when called, and says which extra to install when it is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from triage.errors import TaskError


def require(package: str, extra: str, adapter: str) -> ModuleType:
    """Import ``package`` for ``adapter``, or fail in one line naming the extra to install."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise TaskError(f"{adapter} needs the {package} package ({exc}); pip install "
                        f"'triage[{extra}]'") from None
