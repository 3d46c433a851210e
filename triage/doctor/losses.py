"""Which loss the task uses, so activation/loss pairings are judged only where they are known.

Built-in names, ``torch.nn`` loss modules and ``torch.nn.functional`` losses are known by
identity. Any other callable (a Keras port such as ``lambda p, y: -(y * p.log()).sum(1).mean()``)
is recognised by behaviour: it is evaluated on random outputs and compared with each reference
loss up to a constant factor (sum versus mean). A callable that matches none stays unknown and is
never judged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# What each known loss expects the model to output.
EXPECTS = {"cross_entropy": "logits", "nll": "log_probs", "bce_with_logits": "logits",
           "bce": "probs", "probs_ce": "probs", "mse": "values", "l1": "values"}

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


def identify(loss: object, out: torch.Tensor, y: torch.Tensor) -> str | None:
    """The known loss ``loss`` is, or None. ``out``/``y`` are one batch of outputs/targets."""
    if isinstance(loss, str):
        return loss
    if type(loss) in _MODULES:
        return _MODULES[type(loss)]
    if loss in _FUNCTIONS:
        return _FUNCTIONS[loss]  # type: ignore[index]
    return _by_behaviour(loss, out, y)  # type: ignore[arg-type]


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
