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
    """A finding code's fixed facts: its family, the document it comes from, what it means."""

    family: str
    source: str
    title: str


CODES: dict[str, Code] = {
    "data.non_finite": Code("data", TROUBLESHOOTING, "NaN/inf in inputs or targets"),
    "data.unnormalized_inputs": Code("data", TROUBLESHOOTING, "inputs far from unit scale"),
    "data.constant_feature": Code("data", NOT_WORKING, "zero-variance input features"),
    "data.unscaled_targets": Code("data", NOT_WORKING, "regression targets far from unit scale"),
    "data.split_mismatch": Code("data", TROUBLESHOOTING,
                                "train and validation normalised differently"),
    "data.batch_clamped": Code("batch_size", TROUBLESHOOTING,
                               "batch size larger than the dataset"),
    "data.fixed_by_preprocessing": Code("data", TROUBLESHOOTING,
                                        "what a table's preprocessing fixed"),
    "data.not_checked": Code("data", DEBUGGING,
                             "data checks skipped: the items are not (x, y) tensors"),
    "model.not_checked": Code("model", DEBUGGING,
                              "model-at-init checks skipped: inputs and targets unknown"),
    "train.overfit_not_checked": Code("loss", DEBUGGING,
                                      "overfit test skipped: the step's loss is its own"),
    "model.forward_error": Code("model", DEBUGGING,
                                "the model or the loss fails on a batch"),
    "model.output_shape": Code("loss", DEBUGGING,
                               "output and target shapes differ (silent broadcasting)"),
    "model.output_activation": Code("activation", NOT_WORKING,
                                    "final activation at odds with the loss or targets"),
    "model.constant_output": Code("activation", NOT_WORKING,
                                  "the output cannot vary with the input"),
    "model.no_nonlinearity": Code("activation", TROUBLESHOOTING,
                                  "linear layers in a row with nothing nonlinear between"),
    "model.saturated_units": Code("init", NOT_WORKING,
                                  "most tanh/sigmoid units at their bounds at init"),
    "model.loss_target_mismatch": Code("loss", TROUBLESHOOTING,
                                       "a regression loss on class targets, or the reverse"),
    "model.bad_init": Code("init", NOT_WORKING,
                           "constant weights, or activations exploding/collapsing at init"),
    "model.long_sequence": Code("model", TRICKS,
                                "recurrent layer fed sequences longer than 200 steps"),
    "train.diverges_early": Code("learning_rate", DEBUGGING,
                                 "NaN/inf or explosion within the first 100 iterations"),
    "train.nan_at_any_lr": Code("loss", DEBUGGING,
                                "non-finite loss even at a tiny learning rate"),
    "train.not_learning": Code("learning_rate", DEBUGGING, "the loss does not move"),
    "train.lr_too_low": Code("learning_rate", TROUBLESHOOTING,
                             "learning, but too slowly for the training budget"),
    "train.cannot_overfit_small": Code("loss", DEBUGGING, "cannot memorise 10 examples"),
    "train.dead_units": Code("activation", NOT_WORKING, "most ReLU units never active"),
    "train.vanishing_gradients": Code("init", NOT_WORKING,
                                      "gradients collapse toward the input layers"),
    "train.exploding_gradients": Code("optimizer", DEBUGGING, "gradient-norm spikes"),
    "train.out_of_memory": Code("batch_size", TROUBLESHOOTING,
                                "the configured batch does not fit in device memory"),
    "train.update_ratio": Code("learning_rate", TROUBLESHOOTING,
                               "update:parameter ratio far from 1e-3"),
}


@dataclass
class Finding:
    """One verdict.

    Attributes:
        code: stable identifier (a key of ``CODES``).
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
        verified: what ``doctor --verify`` measured for this fix (before/after), or None.
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
