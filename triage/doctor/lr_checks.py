"""``train.lr_too_low``: the network learns, but too slowly to finish in the user's budget.

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

from triage.doctor.base import Check, Evidence
from triage.doctor.findings import Finding, Severity
from triage.doctor.probes import Run

SIGNIFICANT = 2.0  # standard errors: "still falling" is a fall noise does not explain
NOWHERE_NEAR = 3.0  # the estimated steps needed exceed the user's budget this many times
# (clean programs of benchmarks/zoo.py: at most 1.9x; its too-low case: never gets there)
CAP = 100.0  # estimates beyond this many budgets are reported as "not in 100x your epochs"
CLEARLY = 0.85  # a faster LR's loss at most 85% of the configured one's at the same step, and
# lower by more than SIGNIFICANT standard errors of the two windows: an effect beyond noise. What
# separates slow-but-fine programs from too-low ones is the extrapolation (NOWHERE_NEAR): clean
# zoo programs have faster LRs reaching 0.003x to 1.5x their loss.


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
