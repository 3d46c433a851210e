"""Training checks (``train.*`` codes) on the size of the steps: gradient-norm spikes
(``train.exploding_gradients``), the update:parameter ratio (``train.update_ratio``), and an
LR too low for the budget.

``train.lr_too_low``: the network learns, but too slowly to finish in the user's budget.

The configured probe's loss is still falling at its end (by more than its step-to-step noise)
and short probes at 3x and 10x the LR (same steps, same batches; then 100x when 10x beat 3x)
reach a clearly lower loss;
or, when the user's whole training is shorter than the probe, 3x or 10x reaches a clearly lower
validation loss at its end than the user's LR does;
and extrapolating the configured curve (loss linear in log-steps, fitted over the probe's second
half) says it needs more than three times the user's budget to get there (or never does, by that
fit).
"""

from __future__ import annotations

import math
from statistics import median

from triage.doctor.base import Check, Evidence
from triage.doctor.findings import DEBUGGING, TROUBLESHOOTING, Code, Finding, Severity
from triage.doctor.probes import EARLY, Run
from triage.doctor.train_checks import RATIO_HIGH, RATIO_LOW, nan_at_any_lr

SPIKE = 50.0  # Debugging: RNNs' "learning spikes, where the gradient magnitude is very high";
# a step 50x its neighbours (clean controls: at most 20x)
WINDOW = 10  # neighbours on each side
TARGET_RATIO = 1e-3  # DL4J troubleshooting: the update:parameter ratio to aim at

SIGNIFICANT = 2.0  # standard errors: "still falling" is a fall noise does not explain
NOWHERE_NEAR = 3.0  # the estimated steps needed exceed the user's budget this many times
# (clean programs of benchmarks/faults/seen_zoo.py: at most 1.9x; its too-low case: never gets
# there)
CAP = 100.0  # estimates beyond this many budgets are reported as "not in 100x your epochs"
CLEARLY = 0.85  # a faster LR's loss at most 85% of the configured one's at the same step, and
# lower by more than SIGNIFICANT standard errors of the two windows: an effect beyond noise. What
# separates slow-but-fine programs from too-low ones is the extrapolation (NOWHERE_NEAR): clean
# zoo programs have faster LRs reaching 0.003x to 1.5x their loss.


class ExplodingGradients(Check):
    stage = "train"
    codes = (Code("train.exploding_gradients", "optimizer", DEBUGGING, "gradient-norm spikes",
                  "warning (error if it diverges)",
                  f"a step's gradient norm {SPIKE:g}x its neighbours', or divergence after "
                  f"{EARLY} iterations; clip at the 90th percentile",
                  cause_order=230, tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        run = ev.runs.get("configured")
        if run is None or run.result is None or run.early or nan_at_any_lr(ev):
            return []
        steps = [(n, v) for n, v in zip(run.instruments.norms, run.result.losses, strict=False)
                 if math.isfinite(n)]
        series = [n for n, _ in steps]
        late = run.result.diverged
        if len(series) < 2 * WINDOW:
            return []
        spike = spike_ratio(series, [v for _, v in steps])
        norms = sorted(series)
        mid, top, clip = median(norms), norms[-1], norms[int(0.9 * (len(norms) - 1))]
        if not (spike >= SPIKE or late):
            return []
        evidence = {"median_grad_norm": mid, "max_grad_norm": top, "p90_grad_norm": clip,
                    "spike_ratio": spike, "diverged_at_step": run.result.divergence_step}
        what = (f"training diverges after {EARLY} iterations (step "
                f"{run.result.divergence_step})" if late else
                f"gradient norms spike to {spike:.0f}x those of neighbouring steps")
        if clip <= 0:  # most steps had no gradient at all: there is no norm to clip at
            fix, changes = "lower the learning rate", {}
        else:
            fix = (f"clip the global gradient norm at about {clip:.3g} (the 90th percentile "
                   "seen here) and/or lower the learning rate")
            changes = {"grad_clip_norm": float(f"{clip:.3g}")}
        return [Finding("train.exploding_gradients", Severity.ERROR if late else Severity.WARNING,
                        f"{what}: exploding gradients (typical of RNNs)", evidence, fix,
                        changes=changes)]


def spike_ratio(norms: list[float], losses: list[float] | None = None) -> float:
    """The largest step norm over the median of its ``WINDOW`` neighbours on each side: a
    converging run's shrinking gradients are not spikes; isolated bursts are. With the
    per-step ``losses``, a norm is discounted by how far the loss falls over the steps after
    it: a gradient that shrinks as steeply as the loss (the first steps of a fast updater
    such as LBFGS) is convergence, not a burst."""
    worst = 0.0
    for i, value in enumerate(norms):
        around = norms[max(0, i - WINDOW): i] + norms[i + 1: i + 1 + WINDOW]
        local = median(around)
        if local > 0:
            worst = max(worst, value / local / _loss_fall(losses, i))
    return worst


def _loss_fall(losses: list[float] | None, i: int) -> float:
    """How many times the loss at step ``i`` exceeds the median of the next ``WINDOW`` (>= 1)."""
    if not losses or i + 1 >= len(losses):
        return 1.0
    now, later = losses[i], losses[i + 1: i + 1 + WINDOW]
    if not all(math.isfinite(v) for v in (now, *later)):
        return 1.0
    level = median(later)
    return max(1.0, now / level) if level > 0 else 1.0


def weight_update_ratio(run: Run) -> float | None:
    """Median update:weight ratio over weight tensors (zero-initialised biases would make
    their ratios meaningless)."""
    weights = [v for name, v in run.result.update_ratio.items()  # type: ignore[union-attr]
               if "bias" not in name and math.isfinite(v) and v > 0]
    return median(weights) if weights else None


class UpdateRatio(Check):
    stage = "train"
    codes = (Code("train.update_ratio", "learning_rate", TROUBLESHOOTING,
                  "update:parameter ratio far from 1e-3", "warning",
                  "median update:weight ratio outside [1e-5, 1e-1] (the documents aim near "
                  "1e-3)",
                  cause_order=240, tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        run = ev.trained()
        if run is None:
            return []
        ratio, lr = weight_update_ratio(run), ev.settings.lr
        if ratio is None or RATIO_LOW <= ratio <= RATIO_HIGH:
            return []
        factor = min(100.0, max(0.01, TARGET_RATIO / ratio))
        word = "small" if ratio < RATIO_LOW else "large"
        return [Finding("train.update_ratio", Severity.WARNING,
                        f"updates are {ratio:.2g} of the weights per step (the documents aim "
                        f"near 1e-3): the learning rate {lr:g} looks too {word}",
                        {"median_update_ratio": ratio, "lr": lr, "target": TARGET_RATIO},
                        f"set the learning rate near {lr * factor:.3g} and confirm with "
                        "'triage lr-find'", changes={"lr": float(f"{lr * factor:.3g}")})]


# -- train.lr_too_low ----------------------------------------------------------------------

def _window(losses: list[float], at: int) -> list[float]:
    """The finite training losses of the steps just before ``at`` (a tenth of them, at least
    5)."""
    return [v for v in losses[max(0, at - max(5, at // 10)): at] if math.isfinite(v)]


def smoothed(losses: list[float], at: int) -> float:
    """Mean training loss over the steps just before ``at`` (see ``_window``)."""
    return _mean(_window(losses, at))


def _drop_beyond_noise(before: list[float], after: list[float]) -> bool:
    """``after``'s mean is below ``before``'s by more than ``SIGNIFICANT`` standard errors of
    the difference."""
    error = math.sqrt(_variance(before) / len(before) + _variance(after) / len(after))
    return _mean(before) - _mean(after) > SIGNIFICANT * error


def still_falling(losses: list[float]) -> bool:
    """The last quarter's mean loss is below the quarter before it by more than ``SIGNIFICANT``
    standard errors of the difference (per-step losses are noisy: a converged run's quarters
    differ by noise alone)."""
    n = len(losses)
    quarter = n // 4
    if quarter < 4:
        return False
    last = [v for v in losses[n - quarter:] if math.isfinite(v)]
    before = [v for v in losses[n - 2 * quarter: n - quarter] if math.isfinite(v)]
    return len(last) >= 4 and len(before) >= 4 and _drop_beyond_noise(before, last)


def _variance(values: list[float]) -> float:
    mean = _mean(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def steps_to_reach(losses: list[float], target: float) -> float | None:
    """Steps the curve needs to reach ``target``, from a least-squares fit of loss against
    log-steps over its second half; None when that fit does not fall."""
    points = [(math.log(t + 1), v) for t, v in enumerate(losses)
              if t >= len(losses) // 2 and math.isfinite(v)]
    if len(points) < 4:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    if slope >= 0:
        return None
    return math.exp(min(50.0, mx + (target - my) / slope))


def _clearly_lower(mine: list[float], theirs: list[float], at: int) -> bool:
    """``theirs`` ends at most ``CLEARLY`` times ``mine`` at step ``at``, by more than
    ``SIGNIFICANT`` standard errors of the two windows' difference."""
    a, b = _window(mine, at), _window(theirs, at)
    return len(a) >= 2 and len(b) >= 2 and _mean(b) <= CLEARLY * _mean(a) and \
        _drop_beyond_noise(a, b)


def _val(run: Run | None) -> float | None:
    """A probe's validation loss, when it ran cleanly and was evaluated."""
    r = run.result if run is not None else None
    ok = r is not None and r.ok and r.val_loss is not None and math.isfinite(r.val_loss)
    return r.val_loss if ok else None  # type: ignore[union-attr]


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


class LRTooLow(Check):
    stage = "train"
    codes = (Code("train.lr_too_low", "learning_rate", TROUBLESHOOTING,
                  "learning, but too slowly for the training budget", "warning",
                  "learning, but too slowly for the training budget: a higher LR gets much "
                  f"further in the same steps (<= {CLEARLY:g}x the loss), and a fit of the loss "
                  f"curve says yours needs > {NOWHERE_NEAR:g}x your budget to get there",
                  frozenset({"train.update_ratio"}),
                  cause_order=210, tried_by="settings"),)

    def check(self, ev: Evidence) -> list[Finding]:
        run = ev.trained()
        stable = [r for r in ev.faster if r.ok]
        if run is None or not stable or ev.prepared is None:
            return []
        losses = run.result.losses  # type: ignore[union-attr]
        horizon = stable[0].result.steps  # type: ignore[union-attr]
        mine = smoothed(losses, horizon)
        best = min(stable, key=lambda r: smoothed(r.result.losses, horizon))  # type: ignore[union-attr]
        theirs = smoothed(best.result.losses, horizon)  # type: ignore[union-attr]
        mine_val = _val(ev.runs.get("at_budget"))
        if mine_val is not None:  # a short budget: the validation losses at its end decide
            scored = [(v, r) for r in stable if (v := _val(r)) is not None]
            if not scored:
                return []
            theirs_val, best = min(scored, key=lambda vr: vr[0])
            if theirs_val > CLEARLY * mine_val:
                return []
            theirs = smoothed(best.result.losses, horizon)  # type: ignore[union-attr]
        elif not _clearly_lower(losses, best.result.losses, horizon):  # type: ignore[union-attr]
            return []
        batch = ev.settings.batch_size
        per_epoch = ev.prepared.steps_per_epoch(batch)
        budget = ev.prepared.budget_steps(batch)
        need = steps_to_reach(losses, theirs)
        if need is not None and need <= NOWHERE_NEAR * budget:
            return []  # the user's training gets there, or near, at this LR
        lr, faster = ev.settings.lr, best.result.settings.lr  # type: ignore[union-attr]
        epochs = None if need is None else need / per_epoch
        if epochs is None or epochs > CAP * ev.task.epochs:
            estimate = (f"; at lr={lr:g} the loss curve does not get there in {CAP:g}x your "
                        f"{ev.task.epochs} epochs (an estimate)")
            epochs = None
        else:
            estimate = (f"; at lr={lr:g} it would need about {epochs:.0f} epochs to get "
                        f"there (an estimate from the loss curve) where you train "
                        f"{ev.task.epochs}")
        if mine_val is not None:
            what = (f"your whole training is {horizon} steps; in them lr={faster:g} reaches a "
                    f"validation loss of {_val(best):.4g} against {mine_val:.4g} at lr={lr:g}")
        else:
            what = (f"the loss is still falling steadily when the probe ends, and "
                    f"lr={faster:g} reaches {theirs:.4g} against {mine:.4g} at lr={lr:g} in "
                    f"the same {horizon} steps")
        return [Finding("train.lr_too_low", Severity.WARNING,
                        f"{what}: the learning rate is too low for your budget{estimate}",
                        {"lr": lr, "faster_lr": faster, "loss": mine, "faster_loss": theirs,
                         "val_loss": mine_val, "faster_val_loss": _val(best),
                         "steps": horizon, "budget_steps": budget,
                         "estimated_epochs_needed": epochs, "epochs": ev.task.epochs,
                         "tried": {f"{r.result.settings.lr:g}": (  # type: ignore[union-attr]
                             smoothed(r.result.losses, horizon) if r.result.ok  # type: ignore[union-attr]
                             else r.result.divergence_reason)  # type: ignore[union-attr]
                             for r in ev.faster if r.result is not None}},
                        f"set the learning rate to {faster:g} (it did best of {lr:g} x "
                        + ", x ".join(f"{r.result.settings.lr / lr:.3g}"  # type: ignore[union-attr]
                                      for r in ev.faster if r.result is not None)
                        + " here) and confirm with 'triage lr-find'",
                        changes={"lr": float(f"{faster:.3g}")})]
