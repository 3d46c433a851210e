"""Model checks (``model.*`` codes) on how the network is wired, read at initialisation: an
output that cannot vary with the input, linear layers with nothing nonlinear between them,
tanh/sigmoid units sitting at their bounds, a loss that does not fit the targets, and a loss of
the user's own that is NaN at a confident right answer."""

from __future__ import annotations

import torch

from triage.doctor.base import Check, Evidence
from triage.doctor.findings import (
    DEBUGGING,
    NOT_WORKING,
    SYMPTOMS,
    TROUBLESHOOTING,
    UNSTABLE,
    Code,
    Finding,
    Severity,
)
from triage.losses import known
from triage.task import MAX_CLASSES

# Holden, "initialised wrong": most units of a tanh/sigmoid layer within 1% of a bound pass
# almost no gradient (forward.BOUND). Clean tanh MLP of benchmarks/faults/seen_zoo.py: 0%; its
# saturated sigmoid case: 73-78% (3 seeds each; benchmarks/RESULTS.md).
SATURATED = 0.5

_HEAD_FOR_LOSS = {
    "bce": "one output unit with a sigmoid",
    "bce_with_logits": "one output unit with no activation",
    "cross_entropy": "one output unit per class with no activation",
    "nll": "one output unit per class with log_softmax",
    "probs_ce": "one output unit per class with softmax",
    "mse": "no final activation",
    "l1": "no final activation",
}


class ConstantOutput(Check):
    """The output takes one value for every sample because of the final activation."""

    stage = "model"
    codes = (Code("model.constant_output", "activation", NOT_WORKING,
                  "the output cannot vary with the input", "error",
                  "every output unit takes one value for the whole batch because of the final "
                  "activation (softmax over one unit, a saturated sigmoid, a dead ReLU)",
                  SYMPTOMS | {"model.output_activation", "train.dead_units",
                              "train.vanishing_gradients"}, cause_order=70),)

    def check(self, ev: Evidence) -> list[Finding]:
        f = ev.forward
        if f is None or f.output is None or not f.constant_output or f.constant_weights:
            return []
        out, act = f.output, f.final_activation
        units = out.shape[-1] if out.ndim >= 2 else 1
        value = float(out.reshape(-1)[0])
        layer = f.layer_names[-1] if f.layer_names else "the last layer"
        if act in ("softmax", "log_softmax") and units == 1:
            why = (f"a {act} over a single output unit always gives {value:g} (it normalises "
                   "over one value)")
        elif act == "sigmoid":
            why = f"the final sigmoid is saturated at {value:g} for every sample"
        elif act in ("relu", "clamp"):
            why = f"the final {act} outputs {value:g} for every sample (a dead head)"
        else:
            return []  # constant for another reason: the overfit test asks about the wiring
        loss = ev.loss.name if ev.loss else None
        head = _HEAD_FOR_LOSS.get(loss or "", "the activation the loss expects")
        return [Finding("model.constant_output", Severity.ERROR,
                        f"the model's output cannot vary with the input: {why}; no gradient "
                        "reaches the weights through it",
                        {"final_activation": act, "output_units": units, "value": value,
                         "after_layer": layer, "loss": loss or ev.task.loss_name},
                        f"after layer {layer!r} use {head}"
                        + (f" (loss {loss!r})" if loss else "")
                        + ("; for two classes with softmax, give the layer 2 units"
                           if act in ("softmax", "log_softmax") else ""))]


class NoNonlinearity(Check):
    """Two or more linear maps in a row collapse into one."""

    stage = "model"
    codes = (Code("model.no_nonlinearity", "activation", TROUBLESHOOTING,
                  "linear layers in a row with nothing nonlinear between", "warning",
                  "linear layers in a row with nothing nonlinear between (or a whole model "
                  "affine in its input)",
                  SYMPTOMS | UNSTABLE, cause_order=90),)

    def check(self, ev: Evidence) -> list[Finding]:
        f = ev.forward
        if f is None or f.output is None:
            return []
        chains, whole = f.linear_chains, bool(f.affine)
        layers = f.layer_names or f.weight_matrices  # bare parameters: x @ w1 @ w2
        if not chains and whole and len(layers) >= 2:
            chains = [layers]  # functional code: the modules do not show the gap
        if not chains:
            return []
        longest = max(chains, key=len)
        what = " -> ".join(longest)
        message = (f"layers {what} are linear maps in a row with nothing nonlinear between "
                   "them: together they are one linear map")
        if whole:
            message += (" and the whole model is affine in its input: it can fit nothing a "
                        "single linear layer cannot")
        return [Finding("model.no_nonlinearity", Severity.WARNING, message,
                        {"chains": chains, "model_affine": f.affine},
                        f"put a nonlinearity between them (nn.ReLU() after {longest[0]!r}, "
                        "with init: he), or keep one layer; intended low-rank factorisations "
                        "(LoRA) are fine", changes={"init": "he"} if whole else {})]


class SaturatedUnits(Check):
    """Most outputs of a hidden tanh/sigmoid layer at their bounds on a batch at init."""

    stage = "model"
    codes = (Code("model.saturated_units", "init", NOT_WORKING,
                  "most tanh/sigmoid units at their bounds at init", "warning",
                  f"> {SATURATED:.0%} of a hidden tanh/sigmoid layer's outputs within 1% of a "
                  "bound on a batch at init (clean tanh MLP: 0%); fix: xavier (Holden, "
                  "initialised wrong)",
                  SYMPTOMS | UNSTABLE | {"train.vanishing_gradients"},
                  cause_order=150, tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        f = ev.forward
        if f is None or not f.saturated:
            return []
        worst = max(f.saturated, key=lambda name: f.saturated[name])
        share = f.saturated[worst]
        if share <= SATURATED:
            return []  # one saturated layer is enough: no gradient passes it to those below
        return [Finding("model.saturated_units", Severity.WARNING,
                        f"{share:.0%} of the outputs of tanh/sigmoid layer {worst!r} sit within "
                        "1% of their bounds at init: saturated units pass almost no gradient",
                        {"saturated_share": share, "per_layer": f.saturated},
                        f"initialise with init: xavier (it keeps tanh/sigmoid units in their "
                        f"linear range; the weights feeding {worst!r} are too large), and "
                        "check that the inputs are standardised", changes={"init": "xavier"})]


class LossTargetMismatch(Check):
    """A regression loss on class labels, or a classification loss on continuous targets."""

    stage = "model"
    codes = (Code("model.loss_target_mismatch", "loss", TROUBLESHOOTING,
                  "a regression loss on class targets, or the reverse", "warning / error",
                  f"MSE/L1 on one-hot targets or on labels 0..k-1 (k <= {MAX_CLASSES}) "
                  "(warning); BCE/cross-entropy on continuous targets that are not "
                  "probabilities (error)",
                  SYMPTOMS | UNSTABLE | {"model.output_activation"}, cause_order=60),)

    def check(self, ev: Evidence) -> list[Finding]:
        loss = ev.loss
        if loss is None or ev.splits is None or ev.forward is None or \
                ev.forward.output is None:
            return []
        y = ev.splits.clean_train.y
        evidence: dict[str, object] = {"loss": loss.name, "targets": ev.targets}
        if not loss.classification:
            labels = _class_labels(y, ev.targets)
            if labels is None:
                return []
            evidence["classes"] = labels
            return [Finding("model.loss_target_mismatch", Severity.WARNING,
                            f"regression loss {loss.name!r} on {_describe(ev.targets, labels)}: "
                            "it treats classes as numbers on a line and their errors as "
                            "distances", evidence,
                            f"for classes, use cross_entropy on {labels} logits with integer "
                            "labels (y.argmax(1) for one-hot), or one logit with "
                            "bce_with_logits for two; for ordered quantities, standardise them")]
        if ev.targets != "continuous" or not y.is_floating_point():
            return []
        finite = y[torch.isfinite(y)]
        low, high = float(finite.min()), float(finite.max())
        evidence.update({"target_min": low, "target_max": high})
        soft = low >= 0.0 and high <= 1.0 and (loss.accuracy != "multiclass" or (
            y.ndim >= 2 and bool(torch.allclose(y.sum(-1), y.new_ones(()), atol=1e-3))))
        if soft:
            return []  # probabilities as targets (soft labels, distillation) are fine
        return [Finding("model.loss_target_mismatch", Severity.ERROR,
                        f"classification loss {loss.name!r} on continuous targets spanning "
                        f"{low:.3g}..{high:.3g}: "
                        + ("outside 0..1 the loss has no minimum" if loss.accuracy != "multiclass"
                           else "they are neither class indices nor probabilities"),
                        evidence,
                        "for a regression, use mse with a linear output (standardised "
                        "targets); for classes, give integer labels")]


def _class_labels(y: torch.Tensor, kind: str) -> int | None:
    """How many classes the targets look like (one-hot rows, 0/1 columns, or integral floats
    0..k-1), else None."""
    if kind == "onehot":
        return int(y.shape[-1])
    if not y.is_floating_point() or (y.ndim >= 2 and y.shape[-1] != 1):
        return None
    finite = y[torch.isfinite(y)]
    if finite.numel() < 2 or not bool((finite == finite.round()).all()):
        return None
    values = torch.unique(finite)
    k = len(values)
    consecutive = bool((values == torch.arange(k, dtype=values.dtype)).all())
    return k if 2 <= k <= MAX_CLASSES and consecutive else None


def _describe(kind: str, classes: int) -> str:
    return ("one-hot class targets" if kind == "onehot" else
            f"targets that look like class labels 0..{classes - 1}")


class UnguardedLog(Check):
    """The user's own loss on probabilities is NaN where the model is right and sure of it."""

    stage = "model"
    codes = (Code("model.unguarded_log", "loss", DEBUGGING,
                  "a loss on probabilities that is NaN at a confident right answer", "warning",
                  "the task's own loss function on probabilities returns NaN/inf (or a NaN/inf "
                  "gradient) at a prediction of exactly 1 for the right class: log(0) of the "
                  "others, and 0 * log(0) is NaN, which a long run reaches"),)

    def check(self, ev: Evidence) -> list[Finding]:
        kind, loss = ev.loss, ev.task.loss
        if kind is None or kind.expects != "probs" or known(loss) is not None or \
                not callable(loss) or ev.forward is None or ev.forward.output is None or \
                ev.splits is None:
            return []
        out = ev.forward.output
        y = ev.splits.clean_train.y[:len(out)]
        try:
            p = _sure_and_right(out, y, kind.accuracy == "multiclass").requires_grad_()
            value = loss(p, y)
            (grad,) = torch.autograd.grad(value, p)
        except Exception:  # a loss that cannot take this input says nothing here
            return []
        if bool(torch.isfinite(value).all()) and bool(torch.isfinite(grad).all()):
            return []
        return [Finding("model.unguarded_log", Severity.WARNING,
                        "your loss is NaN/inf when the model predicts the right class with "
                        "probability 1 (log(0) of the others; 0 * log(0) is NaN): training that "
                        "grows confident turns NaN, however long it took to get there",
                        {"loss": float(value.detach()) if value.numel() == 1 else None,
                         "gradient_finite": bool(torch.isfinite(grad).all())},
                        "return logits and use cross_entropy / bce_with_logits, or clamp the "
                        "probabilities (p.clamp(1e-7, 1 - 1e-7)) or add an epsilon inside log")]


def _sure_and_right(out: torch.Tensor, y: torch.Tensor, multiclass: bool) -> torch.Tensor:
    """Probabilities shaped like ``out`` that put all mass on the targets' classes."""
    if not multiclass:
        return y.detach().to(out.dtype).reshape(out.shape).clone()
    index = y if not y.is_floating_point() else y.argmax(dim=-1)
    return torch.nn.functional.one_hot(index.long(), out.shape[-1]).to(out.dtype)
