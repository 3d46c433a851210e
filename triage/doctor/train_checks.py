"""Training checks (``train.*`` codes) over the probes: out of memory, NaN at any LR,
divergence, no learning, no memorising, dead units, vanishing gradients. The size of the steps
(gradient spikes, the update:parameter ratio, an LR too low for the budget) is in
``train_update_checks``."""

from __future__ import annotations

import math
from statistics import median

import torch

from triage.data import first_batch
from triage.doctor import probes
from triage.doctor.base import Check, Evidence
from triage.doctor.findings import (
    DEBUGGING,
    NOT_WORKING,
    SYMPTOMS,
    TROUBLESHOOTING,
    Code,
    Finding,
    Severity,
)
from triage.doctor.model_checks import pairing, recommended_init, saturating
from triage.doctor.probes import EARLY, OVERFIT_N, OVERFIT_STEPS, TINY_LR, Run, fitting_batch
from triage.probe.result import FLAT, loss_drop
from triage.rng import seeded
from triage.step import targets
from triage.task import build_model

# Thresholds, with where they come from. Margins were checked on the clean controls of
# benchmarks/faults/seen_zoo.py (3 seeds each; benchmarks/RESULTS.md), which sit far inside each
# one.
# FLAT (triage.probe.result): a loss falling by less than 1% is not learning (clean: >= 35%)
GLIMPSE = 0.1  # a flat loss over less than this share of the user's steps is a warning
DEAD = 0.5  # Holden, "dead neurons": more than half the ReLU units silent on a whole batch
# (clean controls: at most 8%)
VANISH = 1e-3  # Holden, "bad gradients": the first layer learns 1000x slower than the last
# (clean controls: first/last gradient norm 0.19 to 4.8)
SLOWER_FIRST = 0.02  # a flat loss with the first layer learning 50x slower than the last is
# blamed on the gradients, not the LR (clean programs of every set: at least 0.086)
RATIO_LOW, RATIO_HIGH = 1e-5, 1e-1  # DL4J troubleshooting: update:parameter ratio near 1e-3;
# two decades either side is "far" (clean controls: 5e-4 to 7e-3)


def nan_at_any_lr(ev: Evidence) -> bool:
    f = ev.forward
    at_init = f is not None and f.init_loss is not None and not math.isfinite(f.init_loss)
    tiny = ev.runs.get("tiny")
    return at_init or (tiny is not None and tiny.non_finite)


class OutOfMemory(Check):
    stage = "train"
    codes = (Code("train.out_of_memory", "batch_size", TROUBLESHOOTING,
                  "the configured batch does not fit in device memory", "error",
                  "the batch does not fit in device memory; the fix is the largest halving that "
                  "fits", cause_order=40, other_families=("model",)),)

    def check(self, ev: Evidence) -> list[Finding]:
        if "out_of_memory" not in ev.runs:
            return []
        size = ev.runs["out_of_memory"].result.settings.batch_size  # type: ignore[union-attr]
        fits = fitting_batch(ev.shrink)
        tried = [r.result.settings.batch_size for r in ev.shrink if r.result is not None]
        if fits is None:
            return [Finding("train.out_of_memory", Severity.ERROR,
                            f"batch size {size} runs out of device memory, and so do "
                            f"{', '.join(map(str, tried))}: the model itself does not fit",
                            {"batch_size": size, "tried": tried, "device": ev.settings.device},
                            "use a smaller model, mixed precision, or a device with more "
                            "memory", family="model")]
        return [Finding("train.out_of_memory", Severity.ERROR,
                        f"batch size {size} runs out of device memory; {fits} fits (the other "
                        f"checks ran with {fits})",
                        {"batch_size": size, "fits": fits, "tried": tried,
                         "device": ev.settings.device},
                        f"set batch_size to {fits} (the documents: small batches are fine)",
                        changes={"batch_size": fits})]


class NanAtAnyLR(Check):
    stage = "train"
    codes = (Code("train.nan_at_any_lr", "loss", DEBUGGING,
                  "non-finite loss even at a tiny learning rate", "error",
                  "non-finite loss at init or at lr=1e-7: a layer, the loss or the data, "
                  "not the LR", cause_order=30, other_families=("activation",)),)

    def check(self, ev: Evidence) -> list[Finding]:
        if not nan_at_any_lr(ev):
            return []
        f = ev.forward
        out = f.output if f else None
        layer = out is not None and not bool(out.isfinite().all())
        tiny = ev.runs.get("tiny")
        where = ("the model's output is already non-finite at init" if layer else
                 "the loss is non-finite at init" if f and f.init_loss is not None and
                 not math.isfinite(f.init_loss) else
                 f"the loss turns non-finite at lr={TINY_LR:g} (step "
                 f"{tiny.result.divergence_step if tiny and tiny.result else '?'})")
        # An output activation the loss cannot take (a ReLU into a loss on probabilities)
        # makes the NaN: the activation is the fault, the loss only where it shows.
        paired = f is not None and f.final_activation is not None and \
            pairing(f.final_activation, ev.loss) is not None
        if paired:
            where += f" (the output's {f.final_activation} is at odds with the loss)"  # type: ignore[union-attr]
        return [Finding("train.nan_at_any_lr", Severity.ERROR,
                        f"{where}: a layer, the loss or the data makes NaN/inf, not the learning "
                        "rate", {"init_loss": f.init_loss if f else None,
                                 "output_finite": not layer, "tiny_lr": TINY_LR},
                        "stabilise the computation: use log_softmax / cross-entropy on logits "
                        "instead of log(softmax), add an epsilon inside log, division and sqrt, "
                        "and check custom layers",
                        family="activation" if layer or paired else "loss")]


class DivergesEarly(Check):
    stage = "train"
    codes = (Code("train.diverges_early", "learning_rate", DEBUGGING,
                  "NaN/inf or explosion within the first 100 iterations", "error",
                  f"NaN/inf or a 4x loss explosion within {EARLY} iterations; the fix is the "
                  "first stable lr/3^k",
                  frozenset({"train.exploding_gradients", "train.update_ratio"}),
                  cause_order=200, tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        run = ev.runs.get("configured")
        if run is None or run.result is None or not run.result.diverged or nan_at_any_lr(ev):
            return []
        r, lr = run.result, ev.settings.lr
        if not run.early:
            return []  # later divergence: see ExplodingGradients
        stable = next((b.result.settings.lr for b in ev.lowered
                       if b.result is not None and b.result.ok), None)
        evidence = {"lr": lr, "step": r.divergence_step, "reason": r.divergence_reason,
                    "lowered_lr": {f"{b.result.settings.lr:.3g}": ("ok" if b.result.ok else
                                                                b.result.divergence_reason)
                                for b in ev.lowered if b.result is not None}}
        if stable is None:
            fix = (f"lower the learning rate well below {lr:g} (even /3^{len(ev.lowered)} "
                   "diverged) and check the data scale; run 'triage lr-find'")
            return [Finding("train.diverges_early", Severity.ERROR,
                            f"training diverges within {EARLY} iterations at lr={lr:g} "
                            f"(step {r.divergence_step}: {r.divergence_reason})", evidence, fix)]
        return [Finding("train.diverges_early", Severity.ERROR,
                        f"training diverges within {EARLY} iterations at lr={lr:g} (step "
                        f"{r.divergence_step}: {r.divergence_reason}); lr={stable:.3g} is the "
                        "first of lr/3, lr/9, ... that stays stable", evidence,
                        f"set the learning rate to {stable:.3g} (the documents: reduce by 3x "
                        "until no NaN in the first 100 iterations) or run 'triage lr-find'",
                        changes={"lr": float(f"{stable:.3g}")})]


class NotLearning(Check):
    stage = "train"
    codes = (Code("train.not_learning", "learning_rate", DEBUGGING, "the loss does not move",
                  f"error (warning when only the LR is suspected and the probe saw < "
                  f"{GLIMPSE:.0%} of your steps)",
                  f"the loss falls < {FLAT:.0%} over 300 steps; the family follows the likely "
                  f"cause (> {DEAD:.0%} dead ReLUs or a first layer whose gradients are < "
                  f"1/{1 / SLOWER_FIRST:g} of the last's: activation/init; else the LR)",
                  frozenset({"train.update_ratio"}), cause_order=220,
                  other_families=("activation", "init", "loss")),)

    def check(self, ev: Evidence) -> list[Finding]:
        run = ev.trained()
        if run is None or not probes.flat(run):
            return []
        losses = [v for v in run.result.losses if math.isfinite(v)]  # type: ignore[union-attr]
        start, end, drop = loss_drop(losses)
        longer = ev.runs.get("longer")
        if longer is not None and longer.ok and not probes.flat(longer):
            steps = longer.result.steps  # type: ignore[union-attr]
            later = loss_drop(longer.result.losses)  # type: ignore[union-attr]
            return [Finding("train.not_learning", Severity.INFO,
                            f"a slow start: the training loss does not move over the first "
                            f"{len(losses)} steps at lr={ev.settings.lr:g}, then falls "
                            f"({later[0]:.4g} -> {later[1]:.4g}) by step {steps}",
                            {"loss_start": start, "loss_end": end, "relative_drop": drop,
                             "steps": len(losses), "longer_steps": steps,
                             "longer_relative_drop": later[2]},
                            "nothing to fix if your budget allows the slow start; a higher "
                            "learning rate or a warmup may shorten it ('triage lr-find')")]
        ratio = run.result.median_update_ratio  # type: ignore[union-attr]
        family, cause = _why_flat(ev, ratio)
        assert ev.prepared is not None
        budget = ev.prepared.budget_steps(ev.settings.effective_batch_size)
        # A slow start (XOR's plateau) is no failure where the probe saw a sliver of the run
        # and nothing but the LR is suspected: a warning, saying how much was seen.
        glimpse = family == "learning_rate" and len(losses) < GLIMPSE * budget
        seen = f" (the first {len(losses)} of your {budget} steps)" if glimpse else ""
        return [Finding("train.not_learning", Severity.WARNING if glimpse else Severity.ERROR,
                        f"the training loss does not move: {start:.4g} -> {end:.4g} "
                        f"({drop:+.1%}) over {len(losses)} steps{seen} at "
                        f"lr={ev.settings.lr:g}; likely cause: {cause}",
                        {"loss_start": start, "loss_end": end, "relative_drop": drop,
                         "steps": len(losses), "budget_steps": budget,
                         "median_update_ratio": ratio},
                        _FLAT_FIX[family], family=family)]


_FLAT_FIX = {
    "learning_rate": "raise the learning rate (run 'triage lr-find')",
    "activation": "replace saturated or dead activations (ReLU/LeakyReLU with he init), and "
                  "check the final activation",
    "init": "initialise with he (ReLU) or xavier (tanh/sigmoid) init",
    "loss": "check that the loss receives the model's output and the right targets",
}


def too_small_to_memorise(ev: Evidence) -> tuple[int, int] | None:
    """(trainable parameters, target values of the ``OVERFIT_N`` examples) when the model has
    fewer parameters than values to fit, else None: with fewer free parameters than equations
    a model cannot interpolate examples in general position (a line through 10 noisy points),
    so failing the overfit test says nothing about its wiring."""
    if ev.prepared is None:
        return None
    with seeded(0):  # the caller's random state is left alone
        model = build_model(ev.task)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    y = targets(first_batch(ev.prepared.train, 1))
    if not torch.is_tensor(y):
        return None
    values = min(OVERFIT_N, ev.prepared.n_train) * max(1, y.numel())
    return (parameters, values) if parameters < values else None


def _units_cause(ev: Evidence) -> tuple[str, str] | None:
    """Dead or vanishing units, which stop a net from learning at any LR (and from memorising
    10 examples): their family and a few words, or None."""
    dead = dead_fraction(ev)
    gradients = gradient_ratio(ev)
    if dead is not None and dead > DEAD:
        return "activation", f"{dead:.0%} of ReLU units are dead"
    if gradients is not None and 0 < gradients < SLOWER_FIRST:
        return ("activation" if saturating(ev) else "init"), (
            f"vanishing gradients (the first layer's are {gradients:.2g}x the last's)")
    return None


def _why_flat(ev: Evidence, ratio: float | None) -> tuple[str, str]:
    """The likeliest cause of a flat loss, from the other evidence: dead or vanishing units
    explain a failed overfit test too, so they are asked first."""
    units = _units_cause(ev)
    if units is not None:
        return units
    if ev.overfit and not any(r.memorised for r in ev.overfit) \
            and too_small_to_memorise(ev) is None:
        return "loss", "the wiring (it cannot even memorise 10 examples)"
    if ratio is not None and ratio < RATIO_LOW:
        return "learning_rate", f"updates are {ratio:.2g} of the weights (LR too small)"
    return "learning_rate", "the learning rate or the updater"


class CannotOverfit(Check):
    stage = "train"
    codes = (Code("train.cannot_overfit_small", "loss", DEBUGGING,
                  "cannot memorise 10 examples", "error",
                  f"{OVERFIT_N} examples not memorised (100% accuracy, or a tenth of the loss) "
                  f"in {OVERFIT_STEPS} Adam steps; a batching bug when batch size 1 succeeds",
                  frozenset({"train.not_learning", "train.lr_too_low", "train.update_ratio"}),
                  cause_order=190, other_families=("activation", "init")),
             Code("train.overfit_not_checked", "loss", DEBUGGING,
                  "overfit test skipped: the step's loss is its own, or the model is too small",
                  "info",
                  "a custom `step=` on `(x, y)` items (the step's own loss, a VAE's KL term, "
                  f"need not fall to a tenth), or a model with fewer parameters than the "
                  f"{OVERFIT_N} examples' target values (it cannot interpolate them): the "
                  "overfit test is skipped"))

    def check(self, ev: Evidence) -> list[Finding]:
        if ev.task.step is not None and ev.splits is not None:  # (x, y) items, the user's step
            return [Finding(
                "train.overfit_not_checked", Severity.INFO,
                f"the overfit-{OVERFIT_N}-examples test skipped: it asks for the loss to fall to "
                "a tenth, which holds for a loss of the output and the targets, not for a "
                "step's own loss (a VAE's KL term does not vanish)",
                {"checks": ["CannotOverfit", "BatchingBug"]},
                "nothing to fix; give loss= instead of step= to have it run")]
        one = probes.batch_one(ev.overfit)
        if not ev.overfit or any(r.memorised for r in ev.overfit) or any(
                r.result is None or r.result.oom for r in ev.overfit if r is not one):
            return []  # memorised, or inconclusive (out of memory, or training itself fails)
        small = too_small_to_memorise(ev)
        if small is not None:
            return [Finding(
                "train.overfit_not_checked", Severity.INFO,
                f"the overfit-{OVERFIT_N}-examples test does not apply: the model has "
                f"{small[0]} trainable parameters, fewer than the {small[1]} target values it "
                "would have to fit, so it cannot interpolate them (a line through 10 noisy "
                "points) whether or not it is wired right", {"parameters": small[0],
                                                             "target_values": small[1]},
                "nothing to fix for this test; a model this small is judged by the other checks")]
        evidence = {r.name: _overfit_summary(r) for r in ev.overfit}
        batch_one = one is not None and one.memorised
        message = (f"the network cannot memorise {OVERFIT_N} training examples in "
                   f"{OVERFIT_STEPS} Adam steps (a working net does within a few hundred)")
        if batch_one:
            return []  # BatchingBug's finding
        units = _units_cause(ev)
        if units is None:  # the units learn: the wiring
            family, fix = "loss", _WIRING_FIX
        else:
            family, fix = units[0], _FLAT_FIX[units[0]]
            message += f"; likely cause: {units[1]}"
        return [Finding("train.cannot_overfit_small", Severity.ERROR, message, evidence, fix,
                        family=family)]


_WIRING_FIX = ("check that inputs and labels are paired and hooked up right, that the loss gets "
               "the model's output and the targets in the shapes it expects, and that no layer "
               "cuts the gradient (detach, argmax, frozen parameters)")


def _overfit_summary(run: Run) -> dict[str, object]:
    r = run.result
    if r is None:
        return {"error": run.error}
    return {"loss_start": r.losses[0] if r.losses else None, "loss_end": r.val_loss,
            "accuracy": r.val_accuracy, "diverged": r.diverged}


class BatchingBug(Check):
    """The documents' follow-up: memorises with batch size 1 but not in batches."""

    stage = "train"

    def check(self, ev: Evidence) -> list[Finding]:
        one = probes.batch_one(ev.overfit)
        if one is None or not one.memorised:
            return []
        evidence = {r.name: _overfit_summary(r) for r in ev.overfit}
        return [Finding("train.cannot_overfit_small", Severity.ERROR,
                        f"the network memorises {OVERFIT_N} examples one at a time but not in "
                        "a batch: something mixes samples across the batch (a loss or "
                        "reshape that broadcasts, a reduction over the batch dimension)",
                        evidence, "check every operation that touches the batch dimension: "
                        "output and target shapes in the loss, view/reshape, sums/means over "
                        "dim 0", family="loss")]


def dead_fraction(ev: Evidence) -> float | None:
    values = []
    if ev.forward is not None and ev.forward.dead_fraction is not None:
        values.append(ev.forward.dead_fraction)
    run = ev.trained()
    if run is not None and run.result.dead_relu_fraction is not None:  # type: ignore[union-attr]
        values.append(run.result.dead_relu_fraction)  # type: ignore[union-attr]
    return max(values) if values else None


class DeadUnits(Check):
    stage = "train"
    codes = (Code("train.dead_units", "activation", NOT_WORKING, "most ReLU units never active",
                  "warning (error > 90%)",
                  f"> {DEAD:.0%} of ReLU units silent on a whole batch",
                  SYMPTOMS | {"train.vanishing_gradients"}, cause_order=170,
                  other_families=("learning_rate",), tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        dead = dead_fraction(ev)
        if dead is None or dead <= DEAD:
            return []
        at_init = ev.forward.dead_fraction if ev.forward else None
        severity = Severity.ERROR if dead > 0.9 else Severity.WARNING
        evidence = {"dead_fraction": dead, "at_init": at_init}
        if at_init is not None and at_init <= DEAD:  # alive at init: training at this LR kills
            lr = ev.settings.lr  # them (Holden: "bad gradients" push ReLUs below zero for good)
            return [Finding("train.dead_units", severity,
                            f"{dead:.0%} of ReLU units output zero for every input of a batch "
                            f"after {_steps(ev)} steps at lr={lr:g} ({at_init:.0%} at init): "
                            "the updates push them below zero for good", evidence,
                            f"lower the learning rate (below {lr:g}: run 'triage lr-find'), or "
                            "use LeakyReLU", family="learning_rate")]
        return [Finding("train.dead_units", severity,
                        f"{dead:.0%} of ReLU units output zero for every input of a batch"
                        " already at init", evidence,
                        "initialise with he init and zero biases, or use LeakyReLU",
                        changes={"init": "he"})]


def _steps(ev: Evidence) -> int:
    run = ev.trained()
    return run.result.steps if run is not None else 0  # type: ignore[union-attr]


def gradient_ratio(ev: Evidence) -> float | None:
    """Median first-layer over last-layer weight-gradient norm, in the configured probe."""
    run = ev.runs.get("configured")
    layers = run.instruments.layers if run else {}
    series = [v for v in layers.values() if v]
    if len(series) < 3:
        return None
    first, last = median(series[0]), median(series[-1])
    if not (math.isfinite(first) and math.isfinite(last)) or last <= 0:
        return None
    return first / last


class VanishingGradients(Check):
    stage = "train"
    codes = (Code("train.vanishing_gradients", "init", NOT_WORKING,
                  "gradients collapse toward the input layers", "warning",
                  "first layer's gradient norm < 1e-3 of the last's", SYMPTOMS, cause_order=180,
                  other_families=("activation",), tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        ratio = gradient_ratio(ev)
        if ratio is None or ratio >= VANISH or ratio == 0:
            return []  # exactly zero: the input is cut off (a wiring fault), not vanishing
        hidden = ev.forward.hidden_activations if ev.forward else set()
        squashing = saturating(ev)
        fix = ("use ReLU-family hidden activations with he init" if squashing else
               f"initialise with {recommended_init(ev)} init") + \
            ", add normalisation layers or residual connections, or use fewer layers"
        return [Finding("train.vanishing_gradients", Severity.WARNING,
                        f"gradients vanish toward the input: the first layer's gradient norm is "
                        f"{ratio:.2g}x the last layer's"
                        + (f" (saturating {', '.join(squashing)} layers)" if squashing else ""),
                        {"first_over_last": ratio, "hidden_activations": sorted(hidden)}, fix,
                        family="activation" if squashing else "init",
                        # with squashing units the fix is code (the activation): none to try
                        changes={} if squashing else {"init": recommended_init(ev)})]
