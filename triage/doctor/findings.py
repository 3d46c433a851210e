"""Findings: what a doctor check concludes, with its evidence, its fix and its source.

Every code belongs to one *family*, the setting or part of the program it points at, so a
reader (or a benchmark) can tell at once whether a finding names the right kind of fault.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """How bad a finding is; errors make ``triage doctor`` exit with code 1."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()


FAMILIES = ("data", "model", "activation", "loss", "init", "learning_rate", "optimizer",
            "batch_size")

# The five source documents (two are the same DL4J page, in English and Chinese).
TROUBLESHOOTING = "DL4J, Troubleshooting Neural Net Training"
NOT_WORKING = "D. Holden, My Neural Network isn't working! What should I do?"
DEBUGGING = "Introduction to debugging neural networks"
TRICKS = "DL4J, Tricks to Train Deep Neural Networks"


@dataclass(frozen=True)
class Code:
    """A finding code's fixed facts, declared by the check that emits it (``Check.codes``).

    Attributes:
        code: ``data.*``, ``model.*`` or ``train.*``: the stage whose evidence it reads (a
            check emitting ``model.*`` codes lives in ``model_*checks.py``).
        family: the fault it points at (one of ``FAMILIES``); a finding may override it, with
            one of ``other_families`` (shown in the codes table).
        source: the document it comes from.
        title: what it means, in a few words.
        severity: the severities it takes, in words (the codes table).
        fires: when it fires (the codes table).
        explains: the codes whose findings a warning or error of this code explains
            (``causes``): shown under it as consequences.
        cause_order: its place among causes (lower: more fundamental; ``causes.order``);
            None: after every ordered code, in the order the checks ran.
        tried_by: how ``verify`` tries its fix in a probe: ``settings`` (the finding's
            ``changes``, where it has any), or a data rewrite (``rewrites.REWRITES``:
            ``inputs``, ``targets``); None: its fix is code a probe cannot write.
    """

    code: str
    family: str
    source: str
    title: str
    severity: str = ""
    fires: str = ""
    explains: frozenset[str] = frozenset()
    cause_order: int | None = None
    other_families: tuple[str, ...] = ()
    tried_by: str | None = None


# The symptoms most faults produce: the loss does not fall (or falls slowly), the net cannot
# memorise 10 examples, the updates are far from 1e-3 of the weights; and instability.
SYMPTOMS = frozenset({"train.not_learning", "train.cannot_overfit_small", "train.update_ratio",
                      "train.lr_too_low"})
UNSTABLE = frozenset({"train.diverges_early", "train.exploding_gradients"})

# Every code, by name: filled in as checks are defined (``triage.doctor.base``), never by hand.
CODES: dict[str, Code] = {}


@dataclass
class Finding:
    """One verdict.

    Attributes:
        code: stable identifier (a key of ``CODES``, declared by a check).
        severity: error, warning or info.
        message: one line saying what is wrong.
        evidence: the numbers behind it (JSON-safe).
        fix: what to change, naming the setting.
        family: overrides the code's family where the evidence points elsewhere (for
            example ``train.not_learning`` caused by the LR versus by the wiring).
        changes: the ``ProbeSettings`` fields this fix sets in the recommended config (``lr``,
            ``init``, ``grad_clip_norm``, ``batch_size``).
        caused_by: the code of the finding that explains this one (see ``causes``), or None
            for a cause; set when findings are ranked.
        verified: what trying this fix measured (``verify``: before/after, helped), or
            None when it was not tried.
    """

    code: str
    severity: Severity
    message: str
    evidence: dict[str, Any]
    fix: str
    family: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    caused_by: str | None = None
    verified: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        if self.family is None:
            self.family = CODES[self.code].family
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}")

    @property
    def source(self) -> str:
        return CODES[self.code].source

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: numbers rounded to 4 significant digits, non-finite ones as strings."""
        return {"code": self.code, "severity": str(self.severity), "message": self.message,
                "evidence": _clean(self.evidence), "fix": self.fix, "family": self.family,
                "source": self.source, "changes": _clean(self.changes),
                "caused_by": self.caused_by, "verified": _clean(self.verified)}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float) or hasattr(value, "__float__"):
        number = float(value)
        return float(f"{number:.4g}") if math.isfinite(number) else str(number)
    return str(value)
