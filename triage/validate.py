"""The general argument checks. Each raises ``SettingsError`` with a message that shows the value
it received; every settings class, config reader and builder validates through these."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TypeVar

from triage.errors import SettingsError

T = TypeVar("T")


def check_choice(kind: str, value: T, choices: Collection[T]) -> T:
    """``value`` must be one of ``choices``; returns it."""
    if value not in choices:
        raise SettingsError(f"unknown {kind} {value!r}; use one of "
                            f"{', '.join(map(str, choices))}")
    return value


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """A finite number > 0 (>= 0 with ``allow_zero``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise SettingsError(f"{name} must be a finite number {bound}, got {value!r}")


def check_positive_int(name: str, value: object) -> None:
    """An integer >= 1 (a bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{name} must be a positive integer, got {value!r}")


def check_count(name: str, value: object) -> None:
    """An integer >= 0: a seed, a number of retries."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"{name} must be a non-negative integer, got {value!r}")


def check_dropout(rate: object) -> None:
    """A dropout rate is None (keep the model's) or a number in [0, 1)."""
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or not 0 <= rate < 1):
        raise SettingsError(f"dropout must be null or in [0, 1), got {rate!r}")
