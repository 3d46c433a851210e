"""A cause is what its fix repairs: each warning's or error's fix is tried in a short probe.

Every finding at warning or above whose fix a probe can apply (its code's ``tried_by``: the
finding's setting ``changes`` -- LR, init, clipping -- or a data rewrite from ``rewrites``:
inputs or targets standardised) is tried: one probe at the user's settings and one with the
fix, the same steps, seed and batches, both evaluated on the validation split, up to the
user's own training length (``PROBE_STEPS`` at most). Only a non-finite loss stops them, so a
spike is judged by where the run ends.

- A fix helps when training with it stays finite and either the user's run did not, or its
  validation loss (in the user's units) is lower by more than ``BETTER``, or its accuracy
  higher by more than ``ACCURACY_SLACK`` with the loss not higher by ``BETTER``.
- No verdict (the finding stays as its check stated it) where the loss and the accuracy
  disagree, or where the user's probe already classifies every validation example right
  (nothing a fix could be seen to repair); an error then stays an error only where the
  user's run got less than ``BROKEN`` of the way to a perfect one.
- A finding whose fix does not help is demoted to info, says so with the numbers, and leaves
  the recommended config. One whose fix helps records the validation loss it reached, by which
  ``causes.rank`` orders the causes, and stays an error only where it repairs a broken run:
  the user's probe failed, or got less than ``BROKEN`` of the way the fix's got (above chance
  accuracy for classes, else below the loss it started at: a run that did not learn got
  nowhere). A program that trains, and would train better, has a warning.

Identical fixes are tried once; data rewrites that do not help alone are tried together; fixes
are tried while the time budget lasts (the rest stay as they were, marked untried).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from triage.data import TensorData
from triage.doctor import probes
from triage.doctor.base import Evidence
from triage.doctor.budget import MIN_STEPS
from triage.doctor.findings import CODES, Finding, Severity
from triage.doctor.rewrites import REWRITES, Rewritten
from triage.probe import ProbeResult, ProbeSettings
from triage.task import PreparedTask

BETTER = 0.02  # a fix must lower the validation loss by more than 2% (probe-to-probe noise)
ACCURACY_SLACK = 0.01  # ... without costing more than a point of validation accuracy
BROKEN = 0.5  # an error's fix: the user's run got less than half as far down as the fix's
CEILING = 1.0  # validation accuracy at which the user's probe leaves no room to show a repair

# helped (None: the loss and the accuracy disagree), in words, the loss in the user's units
Outcome = tuple[bool | None, str, float | None]


@dataclass(frozen=True)
class Trial:
    """One fix tried: its probe, and how its validation loss reads in the user's units."""

    run: probes.Run
    scale: float = 1.0
    rewrite: str | None = None


def tryable(ev: Evidence, finding: Finding) -> bool:
    """A warning or error whose fix a probe can apply here."""
    how = CODES[finding.code].tried_by
    if finding.severity < Severity.WARNING or how is None or ev.prepared is None:
        return False
    if how == "settings":
        return bool(finding.changes) and any(getattr(ev.settings, k) != v
                                             for k, v in finding.changes.items())
    return ev.splits is not None  # a data rewrite needs (x, y) tensors


def verify(ev: Evidence, findings: list[Finding]) -> None:
    """Try the fix of every finding ``tryable`` here; set each one's ``verified``; demote to
    info those whose fix did not help, clearing their ``changes``. Data rewrites that do not
    help alone are tried together (a scaler on inputs and targets is one fix)."""
    assert ev.prepared is not None
    chosen = [f for f in findings if tryable(ev, f)]
    if not chosen:
        return
    wanted = min(probes.PROBE_STEPS,
                 ev.prepared.budget_steps(ev.settings.effective_batch_size))
    base = ev.settings.with_(steps=max(MIN_STEPS, wanted), evaluate=True, grad_clip_norm=None)
    ev.budget.plan(base.steps * (1 + len({_key(f) for f in chosen})))  # type: ignore[operator]
    before = probes.probe("verify: as configured", ev.prepared, base, ev.budget,
                          explosions=False).result
    steps = before.steps if before is not None and not before.diverged else base.steps
    assert steps is not None
    settings = base.with_(steps=steps)
    tried: dict[tuple[Any, ...], Trial | None] = {}
    judged: dict[int, tuple[Trial, Outcome]] = {}
    for finding in chosen:
        key = _key(finding)
        if key not in tried:
            if not ev.budget.affords(steps, base.batch_size):
                finding.verified = {"tried": False, "why": "no time left in the budget"}
                continue
            tried[key] = _try(ev, finding, settings)
        trial = tried[key]
        if trial is not None:  # None: the data cannot be rewritten so (an unknown loss)
            judged[id(finding)] = trial, _compare(before, trial.run.result, trial.scale)
    _joint(ev, before, [f for f in chosen if id(f) in judged], judged, settings)
    base_rate = chance(ev.prepared)
    for finding in chosen:
        if id(finding) in judged:
            trial, outcome = judged[id(finding)]
            _record(finding, before, trial, outcome, steps, base_rate)


def _joint(ev: Evidence, before: ProbeResult | None, judged_findings: list[Finding],
           judged: dict[int, tuple[Trial, Outcome]], settings: ProbeSettings) -> None:
    """Every data rewrite judged at once, where one alone did not help: a rewrite that failed
    alone earns the joint result when it helps and beats each rewrite that helped alone."""
    data = [f for f in judged_findings if CODES[f.code].tried_by in REWRITES]
    failed = [f for f in data if judged[id(f)][1][0] is False]
    names = sorted({CODES[f.code].tried_by for f in data})  # type: ignore[type-var]
    if not failed or len(names) < 2 or not ev.budget.affords(settings.steps or 0,
                                                             settings.batch_size):
        return
    joint = _rewritten(ev, names, settings)  # type: ignore[arg-type]
    if joint is None:
        return
    helped, _, loss = outcome = _compare(before, joint.run.result, joint.scale)
    alone = [o[2] for _, o in (judged[id(f)] for f in data) if o[0] and o[2] is not None]
    if helped and loss is not None and all(loss < a - BETTER * abs(a) for a in alone):
        for finding in failed:
            judged[id(finding)] = joint, outcome


def _record(finding: Finding, before: ProbeResult | None, trial: Trial,
            outcome: Outcome, steps: int, base_rate: float | None = None) -> None:
    helped, summary, loss = outcome
    if _at_ceiling(before):  # nothing left to repair in the probe: no verdict either way
        helped, loss = None, None  # type: ignore[assignment]
        summary += "; inconclusive: your run already classifies every validation example right"
    finding.verified = {"tried": True, "helped": helped, "summary": summary, "steps": steps,
                        "rewrite": trial.rewrite, "before": _numbers(before),
                        "after": _numbers(trial.run.result, trial.scale), "after_loss": loss,
                        "first_loss": before.losses[0] if before and before.losses else None}
    if helped is None:  # no verdict on the fix; an error still needs a broken run
        if finding.severity == Severity.ERROR and not _repairs(before, None, 0.0, base_rate,
                                                               ideal=True):
            finding.severity = Severity.WARNING
            finding.message += f" [a warning: your run learns ({summary})]"
        return
    if not helped:
        finding.severity = Severity.INFO
        finding.message += f" [demoted: its fix did not help when tried ({summary})]"
        finding.changes = {}
    elif finding.severity == Severity.ERROR and not _repairs(before, trial.run.result, loss,
                                                             base_rate):
        finding.severity = Severity.WARNING
        finding.message += (f" [a warning: training works without the fix and better with "
                            f"it ({summary})]")


def _at_ceiling(before: ProbeResult | None) -> bool:
    """The user's probe classifies every validation example right (a fix can show nothing)."""
    return before is not None and before.ok and before.val_accuracy is not None and \
        before.val_accuracy >= CEILING


def _repairs(before: ProbeResult | None, after: ProbeResult | None, loss: float | None,
             chance: float | None, ideal: bool = False) -> bool:
    """The user's probe failed, or got less than ``BROKEN`` of the way the fix's got (with
    ``ideal``: of the way to a perfect accuracy, or to a zero ``loss``): above chance in
    accuracy where there is one (a start inflated by unscaled inputs says nothing), else down
    from the loss it started at (``probes.start_loss``; a run that did not learn got
    nowhere)."""
    if before is None or not before.ok or before.val_loss is None or \
            not math.isfinite(before.val_loss):
        return True
    best = 1.0 if ideal else None if after is None else after.val_accuracy
    if chance is not None and before.val_accuracy is not None and best is not None:
        return before.val_accuracy - chance < BROKEN * (best - chance)
    start = probes.start_loss(before)
    return loss is not None and start - before.val_loss < BROKEN * (start - loss)


def chance(prepared: PreparedTask) -> float | None:
    """The validation accuracy of always predicting the most common class (None: no classes,
    or targets of a shape this cannot read)."""
    y = prepared.val.y if isinstance(prepared.val, TensorData) else None
    if prepared.accuracy is None or y is None or len(y) == 0:
        return None
    if y.is_floating_point() and y.ndim >= 2 and y.shape[-1] > 1:
        y = y.argmax(dim=-1)  # one-hot rows
    elif y.is_floating_point():
        y = (y.reshape(len(y), -1)[:, 0] > 0.5).long()  # binary 0/1 targets
    counts = torch.bincount(y.reshape(-1).long().clamp_min(0))
    return float(counts.max()) / float(counts.sum())


def _key(finding: Finding) -> tuple[Any, ...]:
    how = CODES[finding.code].tried_by
    return (how, tuple(sorted(finding.changes.items())) if how == "settings" else ())


def _try(ev: Evidence, finding: Finding, settings: ProbeSettings) -> Trial | None:
    how = CODES[finding.code].tried_by
    if how == "settings":
        assert ev.prepared is not None
        return Trial(probes.probe(f"verify: {finding.changes}", ev.prepared,
                                  settings.with_(**finding.changes), explosions=False))
    return _rewritten(ev, [how], settings)  # type: ignore[list-item]


def _rewritten(ev: Evidence, names: list[str], settings: ProbeSettings) -> Trial | None:
    """A probe on the data with each named rewrite applied in turn; None when one cannot be."""
    assert ev.prepared is not None
    prepared, scale, what = ev.prepared, 1.0, []
    for name in names:
        rewritten: Rewritten | None = REWRITES[name](prepared, ev.loss)
        if rewritten is None:
            return None
        prepared, scale = rewritten.prepared, scale * rewritten.scale
        what.append(rewritten.what)
    said = "; ".join(what)
    return Trial(probes.probe(f"verify: {said}", prepared, settings, explosions=False),
                 scale, said)


def _compare(before: ProbeResult | None, after: ProbeResult | None, scale: float) -> Outcome:
    """(helped, in words, the fix's validation loss in the user's units)."""
    if after is None or not after.ok or after.val_loss is None or \
            not math.isfinite(after.val_loss):
        why = "the probe failed" if after is None else (after.divergence_reason or "no loss")
        return False, f"with the fix training does not run cleanly: {why}", None
    loss = after.val_loss * scale
    if before is None or not before.ok or before.val_loss is None or \
            not math.isfinite(before.val_loss):
        why = "failed" if before is None else (before.divergence_reason or "no loss")
        return True, (f"without it training {why}; with it, validation loss "
                      f"{loss:.4g}{_accuracy(after)} after {after.steps} steps"), loss
    said = f"validation loss {before.val_loss:.4g} -> {loss:.4g}"
    margin = BETTER * abs(before.val_loss)
    lower, higher = loss < before.val_loss - margin, loss > before.val_loss + margin
    if before.val_accuracy is None or after.val_accuracy is None:
        return lower, f"{said} after {after.steps} steps", loss
    said += f", accuracy {before.val_accuracy:.1%} -> {after.val_accuracy:.1%}"
    gained = after.val_accuracy > before.val_accuracy + ACCURACY_SLACK
    lost = after.val_accuracy < before.val_accuracy - ACCURACY_SLACK
    if (lower and lost) or (higher and gained):  # the two measures disagree: no verdict
        return None, f"{said} after {after.steps} steps (loss and accuracy disagree)", loss
    return lower or (gained and not higher), f"{said} after {after.steps} steps", loss


def _accuracy(result: ProbeResult) -> str:
    return "" if result.val_accuracy is None else f", accuracy {result.val_accuracy:.1%}"


def _numbers(result: ProbeResult | None, scale: float = 1.0) -> dict[str, Any]:
    if result is None:
        return {"failed": True}
    loss = None if result.val_loss is None else result.val_loss * scale
    return {"val_loss": loss, "val_accuracy": result.val_accuracy,
            "diverged": result.diverged, "steps": result.steps}
