"""``doctor --verify``: try each setting-shaped fix in a short probe and keep only those that help.

Every finding whose fix changes settings (LR, init, clipping, batch size) is tried: one probe at
the user's settings and one with the fix applied, the same steps, seed and batches, each
evaluated on the validation split. A fix helps when training with it stays finite and either
the user's run did not, or its validation loss is lower by more than ``BETTER`` (or, with equal
loss, its accuracy higher). A finding whose fix does not help is demoted one severity level and
says so; its changes leave the recommended config.
"""

from __future__ import annotations

import math
from typing import Any

from triage.doctor import probes
from triage.doctor.base import Evidence
from triage.doctor.findings import Finding, Severity
from triage.probe import ProbeResult

BETTER = 0.02  # a fix must lower the validation loss by more than 2% (probe-to-probe noise)


def verify(ev: Evidence, findings: list[Finding]) -> None:
    """Set ``verified`` on every finding with ``changes``; demote those whose fix did not
    help and clear their ``changes``. Identical fixes are tried once."""
    assert ev.prepared is not None
    base = ev.settings.with_(steps=probes.PROBE_STEPS, evaluate=True, grad_clip_norm=None)
    before = probes.probe("verify: as configured", ev.prepared, base, ev.budget)
    steps = before.result.steps if before.result is not None and not before.result.diverged \
        else base.steps
    tried: dict[tuple[tuple[str, Any], ...], probes.Run] = {}
    for finding in findings:
        if not finding.changes or all(getattr(ev.settings, k) == v
                                      for k, v in finding.changes.items()):
            continue  # nothing to try: the probes already ran with it
        key = tuple(sorted(finding.changes.items()))
        if key not in tried:
            tried[key] = probes.probe(f"verify: {dict(key)}", ev.prepared,
                                      base.with_(steps=steps, **finding.changes))
        helped, summary = _compare(before.result, tried[key].result, steps)
        finding.verified = {"helped": helped, "summary": summary, "steps": steps,
                            "before": _numbers(before.result), "after": _numbers(tried[key].result)}
        if not helped:
            finding.severity = Severity(max(int(finding.severity) - 1, int(Severity.INFO)))
            finding.message += f" [demoted: its fix did not help when tried ({summary})]"
            finding.changes = {}


def _compare(before: ProbeResult | None, after: ProbeResult | None,
             steps: int) -> tuple[bool, str]:
    if after is None or not after.ok or after.val_loss is None:
        why = "the probe failed" if after is None else (after.divergence_reason or "no loss")
        return False, f"with the fix training does not run cleanly: {why}"
    if before is None or not before.ok or before.val_loss is None or \
            not math.isfinite(before.val_loss):
        why = "failed" if before is None else (before.divergence_reason or "no loss")
        return True, (f"without it training {why}; with it, validation loss "
                      f"{after.val_loss:.4g}{_accuracy(after)} after {after.steps} steps")
    loss = f"validation loss {before.val_loss:.4g} -> {after.val_loss:.4g}"
    accuracy = ""
    if before.val_accuracy is not None and after.val_accuracy is not None:
        accuracy = f", accuracy {before.val_accuracy:.1%} -> {after.val_accuracy:.1%}"
    better = after.val_loss < (1 - BETTER) * before.val_loss or (
        after.val_loss <= before.val_loss and accuracy != ""
        and after.val_accuracy > before.val_accuracy)  # type: ignore[operator]
    return better, f"{loss}{accuracy} after {steps} steps"


def _accuracy(result: ProbeResult) -> str:
    return "" if result.val_accuracy is None else f", accuracy {result.val_accuracy:.1%}"


def _numbers(result: ProbeResult | None) -> dict[str, Any]:
    if result is None:
        return {"failed": True}
    return {"val_loss": result.val_loss, "val_accuracy": result.val_accuracy,
            "diverged": result.diverged, "steps": result.steps}
