"""Model checks (``model.*`` codes) at initialisation: does a batch go through, does the output
fit the loss and the targets, is the init sane, are recurrent layers fed sequences too long for
full BPTT; and a training step that raises (the same code, in the training stage). How the
network is wired is in ``model_wiring_checks``."""

from __future__ import annotations

import math

import torch

from triage.doctor.base import Check, Evidence, Note
from triage.doctor.findings import (
    DEBUGGING,
    NOT_WORKING,
    SYMPTOMS,
    TRICKS,
    UNSTABLE,
    Code,
    Finding,
    Severity,
)
from triage.doctor.forward import RANGES, SATURATING
from triage.losses import LossKind

MAX_SEQUENCE = 200  # DL4J: "long time series (> 200 time steps): use truncated BPTT"
# Output std divided by the first layer's: beyond these, activations explode or collapse.
EXPLODE, COLLAPSE = 100.0, 0.01
OUT_OF_RANGE = 0.05  # share of targets a bounded output cannot reach before we call it wrong


def saturating(ev: Evidence) -> list[str]:
    """The saturating activations (sigmoid, tanh) among the hidden layers, sorted."""
    hidden = ev.forward.hidden_activations if ev.forward else set()
    return sorted(hidden & set(SATURATING))


def recommended_init(ev: Evidence) -> str:
    """He init for ReLU-like hidden layers, Xavier for saturating ones (the documents)."""
    return "xavier" if saturating(ev) else "he"


class ForwardError(Check):
    stage = "model"
    codes = (Code("model.forward_error", "model", DEBUGGING,
                  "the model or the loss fails on a batch", "error",
                  "the model or the loss fails on a batch, or a training step raises (no "
                  "gradient, ...)", cause_order=10),)

    def check(self, ev: Evidence) -> list[Finding]:
        if ev.forward is None or ev.forward.error is None:
            return []
        X, y = ev.splits.clean_train.X, ev.splits.clean_train.y
        return [Finding("model.forward_error", Severity.ERROR,
                        f"a batch does not go through the model and the loss: "
                        f"{ev.forward.error}",
                        {"input_shape": list(X.shape[1:]), "input_dtype": str(X.dtype),
                         "target_shape": list(y.shape[1:]), "target_dtype": str(y.dtype),
                         "loss": ev.task.loss_name},
                        "make the model accept the data's X and return one tensor that the "
                        "loss accepts with the targets (check the last layer's size)")]


class OutputShape(Check):
    stage = "model"
    codes = (Code("model.output_shape", "loss", DEBUGGING,
                  "output and target shapes differ (silent broadcasting)", "error",
                  "an elementwise loss broadcasts outputs against targets of another shape",
                  SYMPTOMS, cause_order=50),)

    def check(self, ev: Evidence) -> list[Finding]:
        out = ev.forward.output if ev.forward else None
        y = ev.splits.clean_train.y
        loss = ev.loss
        if out is None or loss is None or not loss.elementwise or out.shape == y[: len(out)].shape:
            return []
        got, want = list(out.shape[1:]), list(y.shape[1:])
        return [Finding("model.output_shape", Severity.ERROR,
                        f"outputs {got} and targets {want} per sample differ; loss "
                        f"{loss.name!r} broadcasts them and compares every output with every "
                        "target of the batch",
                        {"output_shape": got, "target_shape": want, "loss": loss.name},
                        "make the targets the output's shape (y.reshape(-1, 1) or "
                        "out.squeeze(-1))")]


class OutputActivation(Check):
    stage = "model"
    codes = (Code("model.output_activation", "activation", NOT_WORKING,
                  "final activation at odds with the loss or targets", "error / warning",
                  "the final activation is at odds with the loss or the targets (softmax or "
                  "sigmoid into a loss that wants logits, a bounded activation that cannot "
                  f"reach > {OUT_OF_RANGE:.0%} of the regression targets, ...)",
                  SYMPTOMS | UNSTABLE | {"train.dead_units"}, cause_order=80),)

    def check(self, ev: Evidence) -> list[Finding]:
        f = ev.forward
        if f is None or f.output is None or not bool(f.output.isfinite().all()):
            return []
        act, loss = f.final_activation, ev.loss
        evidence = {"final_activation": act, "loss": loss.name if loss else ev.task.loss_name,
                    "targets": ev.targets}
        verdict = pairing(act, loss)
        if verdict is None and act is not None and ev.targets == "continuous":
            verdict = _reach(act, ev.splits.clean_train.y, evidence)
        if verdict is None:
            return []
        severity, message, fix = verdict
        return [Finding("model.output_activation", severity, message, evidence, fix)]


def pairing(act: str | None, kind: LossKind | None) -> tuple[Severity, str, str] | None:
    """Pairings known to be wrong (softmax into a loss that applies log-softmax itself, ...)."""
    if kind is None:
        return None
    expects, loss = kind.expects, kind.name
    if expects == "logits" and act in ("softmax", "sigmoid", "tanh"):
        return (Severity.ERROR, f"a {act} feeds loss {loss!r}, which expects raw logits and "
                "applies the " + ("log-softmax" if loss == "cross_entropy" else "sigmoid")
                + " itself; the squashed outputs train slowly or not at all",
                f"remove the final {act} and return the last layer's raw output"
                + ("" if act == "tanh" else f" (apply {act} only when you need probabilities)"))
    if expects == "logits" and act in ("relu", "clamp"):
        return (Severity.WARNING, f"a {act} on the output clips the logits that loss {loss!r} "
                "expects; negative scores cannot be expressed",
                "remove the final activation and return raw logits")
    if expects == "log_probs" and act != "log_softmax":
        return (Severity.ERROR, f"loss 'nll' expects log-probabilities but the output is "
                f"{'raw scores' if act is None else 'a ' + act}",
                "end the model with log_softmax, or drop it and use cross-entropy on logits")
    if expects == "probs" and act is None:
        return (Severity.ERROR, f"loss {loss!r} expects probabilities but the output is raw "
                "scores (its log of negative values is NaN)",
                "end the model with " + ("sigmoid" if loss == "bce" else "softmax")
                + ", or use the logits version of the loss")
    if expects == "probs" and act in ("relu", "clamp", "tanh"):
        return (Severity.ERROR, f"loss {loss!r} expects probabilities but the output is a "
                f"{act}: not a distribution (exact zeros make log(0) and 0/0, which are NaN"
                + ("; negative values too" if act == "tanh" else "") + ")",
                "end the model with " + ("sigmoid" if loss == "bce" else "softmax")
                + ", or return logits and use the logits version of the loss")
    if expects == "probs" and act == "log_softmax":
        return (Severity.ERROR, f"loss {loss!r} expects probabilities but the output is "
                "log-probabilities", "end the model with softmax (or use nll on log_softmax)")
    return None


def _reach(act: str, y: torch.Tensor, evidence: dict[str, object]
           ) -> tuple[Severity, str, str] | None:
    """A bounded output on a regression head that cannot reach the targets."""
    low, high = RANGES.get(act, (-math.inf, math.inf))
    if act == "clamp":
        low, high = -1.0, 1.0  # Hardtanh's default; ReLU6 is 0..6, checked the same way
    finite = y[torch.isfinite(y)]
    if finite.numel() == 0:
        return None
    outside = float(((finite < low) | (finite > high)).float().mean())
    evidence.update({"targets_outside_range": outside, "range": [low, high],
                     "target_min": float(finite.min()), "target_max": float(finite.max())})
    if outside <= OUT_OF_RANGE and act != "softmax":
        return None
    return (Severity.ERROR, f"a {act} on the regression output cannot produce "
            f"{outside:.0%} of the targets (they span {float(finite.min()):.3g}.."
            f"{float(finite.max()):.3g})",
            "use a linear output layer for regression (no final activation)")


class BadInit(Check):
    stage = "model"
    codes = (Code("model.bad_init", "init", NOT_WORKING,
                  "constant weights, or activations exploding/collapsing at init",
                  "error / warning",
                  f"constant weights; last layer's activations > {EXPLODE:g}x or < "
                  f"{COLLAPSE:g}x the first's at init",
                  SYMPTOMS | UNSTABLE | {"model.saturated_units", "train.dead_units",
                                         "train.vanishing_gradients"},
                  cause_order=140, tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        f = ev.forward
        if f is None or f.output is None:
            return []
        init = recommended_init(ev)
        fix = (f"initialise weights with init: {init} (he for ReLU layers, xavier for "
               "tanh/sigmoid), with random, not constant, values")
        # the output layer's units are told apart by their own targets' errors, and a model of
        # one weighted layer (a linear or logistic regression) has no hidden units to keep
        # identical: constant weights there break no symmetry
        output = f.layer_names[-1] if f.layer_names else None
        constant = [name for name in f.constant_weights if name.rpartition(".")[0] != output]
        if constant:
            return [Finding("model.bad_init", Severity.ERROR,
                            f"{len(constant)} weight tensor(s) are constant at init "
                            f"({', '.join(constant[:3])}); units in a layer stay "
                            "identical (symmetry is never broken)",
                            {"constant_weights": constant}, fix,
                            changes={"init": init})]
        stds = f.layer_std
        if len(stds) < 2 or not all(math.isfinite(s) for s in stds):
            return []
        first = stds[0]
        growth = max(stds[-1], 1e-30) / max(first, 1e-30)
        evidence = {"layer_output_std": stds, "layers": f.layer_names, "growth": growth}
        if first > 0 and (growth > EXPLODE or growth < COLLAPSE):
            word = "explode" if growth > EXPLODE else "collapse"
            return [Finding("model.bad_init", Severity.WARNING,
                            f"activations {word} through the layers at init: the last layer's "
                            f"output std is {growth:.3g}x the first's ({stds[-1]:.3g} vs "
                            f"{first:.3g})", evidence, fix, changes={"init": init})]
        return []


class LongSequence(Check):
    stage = "model"
    codes = (Code("model.long_sequence", "model", TRICKS,
                  "recurrent layer fed sequences longer than 200 steps", "warning",
                  f"a recurrent layer fed > {MAX_SEQUENCE} steps (use truncated BPTT)",
                  UNSTABLE | {"train.vanishing_gradients", "train.not_learning"},
                  cause_order=160),)

    def check(self, ev: Evidence) -> list[Finding]:
        lengths = ev.forward.sequence_lengths if ev.forward else {}
        long = {name: n for name, n in lengths.items() if n > MAX_SEQUENCE}
        if not long:
            return []
        name, n = max(long.items(), key=lambda kv: kv[1])
        return [Finding("model.long_sequence", Severity.WARNING,
                        f"recurrent layer {name!r} is fed sequences of {n} steps (> "
                        f"{MAX_SEQUENCE}); full backpropagation through time is slow and its "
                        "gradients vanish or explode",
                        {"sequence_lengths": long, "limit": MAX_SEQUENCE},
                        f"use truncated BPTT: split sequences into chunks of <= {MAX_SEQUENCE} "
                        "steps and carry the hidden state across chunks with .detach()")]


class TrainingFails(Check):
    """The model runs forward but a training step raises (no gradient, in-place errors...)."""

    stage = "train"

    def check(self, ev: Evidence) -> list[Finding]:
        run = ev.runs.get("configured")
        if run is None or run.error is None:
            return []
        return [Finding("model.forward_error", Severity.ERROR,
                        f"a training step fails: {run.error}",
                        {"lr": ev.settings.lr, "batch_size": ev.settings.batch_size},
                        "make the loss differentiable with respect to the parameters (no "
                        "detach/no_grad/requires_grad=False on the way) and avoid in-place "
                        "changes of tensors autograd needs")]


class ModelNotChecked(Note):
    """Items doctor cannot read as (x, y) tensors: the model-at-init stage is skipped."""

    codes = (Code("model.not_checked", "model", DEBUGGING,
                  "model-at-init checks skipped: inputs and targets unknown", "info",
                  "the items are not `(x, y)` tensors: the model-at-init checks are skipped "
                  "(the training checks still run)"),)
