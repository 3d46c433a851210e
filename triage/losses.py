"""The one loss table: what each known loss expects, whether it makes a classification, how to
read accuracy off its output, and whether it compares outputs with targets element by element.
``Task`` and ``doctor`` both read it.

A task's loss is known by name (``"cross_entropy"``), by identity (``torch.nn`` loss modules and
``torch.nn.functional`` losses), or, for doctor, by behaviour: any other callable (a Keras port
such as ``lambda p, y: -(y * p.log()).sum(1).mean()``) is evaluated on random outputs and compared
with each reference loss up to a constant factor (sum versus mean). A callable that matches none
stays unknown and is never judged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LossKind:
    """What one known loss is.

    Attributes:
        name: the table key.
        fn: the function a ``Task(loss=name)`` trains with, or None when the name is only
            recognised (never accepted as ``loss=``).
        expects: what the model must output: ``logits``, ``log_probs``, ``probs`` or ``values``.
        accuracy: ``multiclass`` (argmax), ``binary`` (logit > 0), ``binary_prob`` (p > 0.5), or
            None for regression.
        elementwise: compares each output with the target of the same position, so outputs and
            targets of different shapes broadcast silently.
    """

    name: str
    fn: LossFn | None
    expects: str
    accuracy: str | None
    elementwise: bool

    @property
    def classification(self) -> bool:
        return self.accuracy is not None


def _kinds(*kinds: LossKind) -> dict[str, LossKind]:
    return {kind.name: kind for kind in kinds}


KINDS = _kinds(
    LossKind("cross_entropy", F.cross_entropy, "logits", "multiclass", False),
    LossKind("nll", F.nll_loss, "log_probs", "multiclass", False),
    LossKind("bce_with_logits", F.binary_cross_entropy_with_logits, "logits", "binary", True),
    LossKind("mse", F.mse_loss, "values", None, True),
    LossKind("bce", None, "probs", "binary_prob", True),
    LossKind("probs_ce", None, "probs", "multiclass", False),  # cross-entropy on probabilities
    LossKind("l1", None, "values", None, True),
)
NAMES = tuple(name for name, kind in KINDS.items() if kind.fn is not None)  # Task(loss=...)

_MODULES: dict[type, str] = {
    nn.CrossEntropyLoss: "cross_entropy", nn.NLLLoss: "nll",
    nn.BCEWithLogitsLoss: "bce_with_logits", nn.BCELoss: "bce", nn.MSELoss: "mse",
    nn.L1Loss: "l1", nn.SmoothL1Loss: "l1", nn.HuberLoss: "l1",
}
_FUNCTIONS: dict[Callable[..., torch.Tensor], str] = {
    F.cross_entropy: "cross_entropy", F.nll_loss: "nll",
    F.binary_cross_entropy_with_logits: "bce_with_logits", F.binary_cross_entropy: "bce",
    F.mse_loss: "mse", F.l1_loss: "l1", F.smooth_l1_loss: "l1", F.huber_loss: "l1",
}


def known(loss: object) -> LossKind | None:
    """The kind of ``loss`` when it is a table name, a ``torch.nn`` loss module or a
    ``torch.nn.functional`` loss; None otherwise (no evaluation)."""
    if isinstance(loss, str):
        return KINDS.get(loss)
    name = _MODULES.get(type(loss))
    if name is None:
        try:
            name = _FUNCTIONS.get(loss)  # type: ignore[call-overload]
        except TypeError:  # unhashable callables
            name = None
    return None if name is None else KINDS[name]


def identify(loss: object, out: torch.Tensor, y: torch.Tensor) -> LossKind | None:
    """The kind of ``loss``, by name or identity, else by its behaviour on one batch's outputs
    and targets (``out``, ``y``)."""
    kind = known(loss)
    if kind is None and callable(loss):
        name = _by_behaviour(loss, out, y)
        kind = None if name is None else KINDS[name]
    return kind


def _references(y: torch.Tensor) -> dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """name -> (what the loss is fed, reference value as a function of random logits z)."""
    refs: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {}
    if y.is_floating_point():
        refs["mse"] = ("logits", lambda z: F.mse_loss(z, y))
        refs["l1"] = ("logits", lambda z: F.l1_loss(z, y))
        refs["bce_with_logits"] = ("logits", lambda z: F.binary_cross_entropy_with_logits(z, y))
        refs["bce"] = ("probs_sigmoid", lambda z: F.binary_cross_entropy(torch.sigmoid(z), y))
    index = y if not y.is_floating_point() else (
        y.argmax(dim=-1) if y.ndim >= 2 and y.shape[-1] > 1 else None)
    if index is not None:
        refs["cross_entropy"] = ("logits", lambda z: F.cross_entropy(z, index))
        refs["nll"] = ("logits", lambda z: F.nll_loss(z, index))
        refs["probs_ce"] = ("probs", lambda z: F.nll_loss(F.log_softmax(z, dim=-1), index))
    return refs


def _by_behaviour(loss: Callable[..., torch.Tensor], out: torch.Tensor,
                  y: torch.Tensor) -> str | None:
    generator = torch.Generator().manual_seed(0)
    draws = [torch.randn(out.shape, generator=generator) * scale for scale in (1.0, 2.5)]
    for name, (fed, reference) in _references(y).items():
        ratios = []
        for z in draws:
            given = {"logits": z, "probs": F.softmax(z, dim=-1),
                     "probs_sigmoid": torch.sigmoid(z)}[fed]
            try:
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got, want = float(loss(given, y)), float(reference(z))
            except Exception:
                break
            if not (abs(want) > 1e-8 and got == got):
                break
            ratios.append(got / want)
        else:
            if ratios[0] > 0 and abs(ratios[0] - ratios[1]) <= 1e-4 * abs(ratios[0]):
                return name
    return None
