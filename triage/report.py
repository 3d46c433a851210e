"""Everything a person sees: progress, summary tables and plots. Core modules only return data."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from triage import atomic
from triage.choices import TASK_OPTIMIZER

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from triage.config import Config, OptimizerConfig
    from triage.doctor import Diagnosis
    from triage.lr_finder.plan import Plan
    from triage.probe import ProbeResult
    from triage.sweeper import SweepSummary
    from triage.sweeper.budget import Budget

SPENT = (("lr_find", "lr-find"), ("boundaries", "boundaries"), ("search", "search"),
         ("final", "final stage"))


def probe_line(phase: str, result: ProbeResult, reused: bool) -> str:
    """One line of evidence per probe."""
    from triage.lr_finder.strategies import PHASES

    lr = f"lr={result.settings.lr:<9.3g}"
    if result.oom:
        outcome = "[red]out of memory[/]"
    elif result.diverged:
        outcome = f"[red]diverged[/] at step {result.divergence_step} ({result.divergence_reason})"
    elif result.not_learning:
        outcome = f"[yellow]not learning[/]  train loss {result.final_loss:.4g}"
    else:
        outcome = f"[green]stable[/]  train loss {result.final_loss:.4g}"
        if result.val_loss is not None:
            outcome += f"  val loss {result.val_loss:.4g}"
        if result.val_accuracy is not None:
            outcome += f"  acc {result.val_accuracy:.1%}"
    tag = " [dim](from storage)[/]" if reused else ""
    return f"{PHASES.get(phase, phase):>9}  {lr} {result.steps:>4} steps  {outcome}{tag}"


@contextmanager
def _progress(console: Console, name: str, total: int | None, unit: str) -> Iterator[Any]:
    """A transient progress bar on ``console``; yields (progress, task id). The unit is the
    task's field ``unit`` (``progress.update(bar, unit=...)`` changes it)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        yield progress, progress.add_task(name, total=total, unit=unit)


@contextmanager
def lr_find_progress(console: Console, max_steps: int) -> Iterator[Any]:
    """A progress bar over the step budget; yields lr_find's ``on_plan`` and ``on_probe``
    callbacks (the plan is printed and sets the bar's total)."""
    with _progress(console, "lr-find", max_steps, "steps") as (progress, bar):

        def on_plan(plan: Plan) -> None:
            for line in plan.describe():
                progress.console.print(line, highlight=False)
            progress.update(bar, total=plan.max_steps, completed=0)  # (a second search)

        from triage.lr_finder.strategies import PHASES

        def on_probe(phase: str, result: ProbeResult, reused: bool) -> None:
            progress.console.print(probe_line(phase, result, reused), highlight=False)
            progress.update(bar, advance=result.steps,
                            description=f"lr-find: {PHASES.get(phase, phase)}")

        yield on_plan, on_probe


def _updater(o: OptimizerConfig) -> str:
    """An optimizer as the user knows it: its name, its momentum where triage sets one."""
    if o.name == TASK_OPTIMIZER:
        return "task (the Task's own optimizer)"
    if o.name in ("sgd", "rmsprop") and o.momentum:
        nesterov = ", nesterov" if o.nesterov and o.name == "sgd" else ""
        return f"{o.name} (momentum {o.momentum:g}{nesterov})"
    return o.name


def lr_find_summary(config: Config) -> Table:
    """The human summary: boundary, back-off, rule and the recommended settings."""
    from triage.lr_finder.evidence import LRFindEvidence

    ev = config.lr_find or LRFindEvidence()
    table = Table(title=f"lr-find: {config.task}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    o = config.optimizer
    table.add_row("optimizer", _updater(o))
    window, stable, finite = ev.divergence_window_steps, ev.max_stable_lr, ev.max_finite_lr
    table.add_row("max stable LR", "no probe's loss fell: see 'triage doctor'" if stable is None
                  else f"{stable:.3g} (learns, no divergence within {window} steps)")
    if finite is not None and finite != stable:
        table.add_row("no divergence up to", f"{finite:.3g} (but its loss did not fall)")
    div = ev.divergence_lr
    table.add_row("divergence LR", "none found up to the ceiling" if div is None else f"{div:.3g}")
    if ev.backoff is not None:
        table.add_row("back-off", f"{ev.backoff:.3g}x")
    table.add_row("rule", ev.rule)
    table.add_row("[green]recommended LR[/]", f"[green]{o.lr:.3g}[/]")
    chosen = ev.chosen_probe
    if chosen and chosen.get("update_ratio_median") is not None:
        table.add_row("update:param ratio", f"{chosen['update_ratio_median']:.2g} per step "
                      "at the recommended LR (rule of thumb: near 1e-3)")
    table.add_row("batch size / init", f"{config.batch_size} / {config.init}")
    if config.world_size > 1:
        table.add_row("workers", f"{config.world_size} x batch {config.batch_size} (effective "
                      f"batch {config.world_size * config.batch_size}; schedules stay in epochs)")
    rules = ev.rules()
    if rules and ev.one_worker_lr is not None:
        measured = ev.chosen_probe["lr"] if ev.chosen_probe else o.lr  # before any warmup
        held = ev.rule_that_held(measured)
        said = ", ".join(f"{name} {value:.3g} ({value / measured:.2g}x)"
                         for name, value in rules.items())
        table.add_row("scaling rules", f"one worker: {ev.one_worker_lr:.3g}; {said} of the "
                      f"measured LR: " + (f"the {held} rule held (within 2x)" if held else
                                           "neither held (both beyond 2x)"))
    critical = ev.critical_batch
    if critical is not None and config.world_size > 1:
        workers = max(1, round(critical / config.batch_size))
        table.add_row("critical batch", f"at least ~{critical:.0f} samples (gradient noise "
                      "scale at the recommended LR, early in training; it grows as the loss "
                      f"falls): up to ~{workers} workers of batch {config.batch_size} cut the "
                      "steps nearly in proportion; past the critical batch, more workers "
                      "mostly add cost")
    if ev.warmup:
        table.add_row("warmup", _warmup(ev.warmup))
    if ev.fused_fallback:
        table.add_row("fused probes", f"fell back to one at a time: {ev.fused_fallback}")
    full = ev.full_budget_steps
    table.add_row("probes / steps", f"{len(ev.probes)} probes, "
                  f"{ev.steps_used} of {ev.max_steps} steps"
                  + (f" (your full training: {full} steps)" if full else "")
                  + (f"; {ev.one_worker_steps} more for one worker" if ev.one_worker_steps
                     else ""))
    return table


def _warmup(record: dict[str, Any]) -> str:
    """lr-find's warmup trial in words (``triage.lr_finder.warmup``)."""
    tried = ", ".join(f"lr {c['lr']:.3g}: " + ("diverged" if c["val_loss"] is None
                                                else f"val loss {c['val_loss']:.4g}")
                      for c in record["candidates"])
    without = record["without"]
    return (f"Goyal's gradual warmup over {record['epochs']} epoch(s) from {record['start']}, "
            f"tried as the LR sits above one worker's divergence boundary: {tried}; without "
            + ("it, no finite loss" if without is None else f"it {without:.4g}") + ": "
            + ("kept (warmup_epochs in the config)" if record["kept"] else "not kept"))


def _smooth(values: list[float | None], beta: float = 0.9) -> list[float]:
    """Bias-corrected exponential moving average; NaN from the first missing value on."""
    out, avg = [], 0.0
    for i, value in enumerate(values):
        if value is None or (out and math.isnan(out[-1])):
            out.append(math.nan)
            continue
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def plot_lr_find(config: Config, path: str) -> None:
    """Loss curves per LR, and LR against loss with the boundary and the recommendation marked.

    Written atomically as PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    from triage.lr_finder.evidence import LRFindEvidence
    from triage.lr_finder.strategies import PHASES, BackOff, NanBoundary, ThreeLR

    ev = config.lr_find or LRFindEvidence()
    probes = ev.probes
    fig, (curves, scan) = plt.subplots(1, 2, figsize=(12, 4.8))
    lrs = [p["lr"] for p in probes]
    norm = colors.LogNorm(vmin=min(lrs), vmax=max(lrs)) if lrs else None
    starts = [p["losses"][0] for p in probes if p["losses"] and p["losses"][0] is not None]
    ceiling = 4 * max(starts) if starts else None
    for p in probes:
        ys = _smooth(p["losses"])
        color = cm.viridis(norm(p["lr"])) if norm else None
        style = ":" if p["diverged"] else ("-" if p["phase"] == BackOff.name else "--")
        curves.plot(range(len(ys)), ys, style, color=color, lw=1, alpha=0.85,
                    label=f"{p['lr']:.2g}{' (diverged)' if p['diverged'] else ''}")
    finite = [v for p in probes for v in p["losses"] if v is not None and v > 0]
    curves.set_yscale("log")
    if ceiling and finite:
        curves.set_ylim(bottom=min(finite) * 0.8, top=ceiling)
    curves.set(xlabel="step", ylabel="training loss (smoothed)",
               title="loss per probe (dashed: boundary, solid: back-off, dotted: diverged)")
    curves.legend(fontsize=6, ncol=2, title="LR", title_fontsize=7)
    for phase, marker, key in ((ThreeLR.name, "s", "final_loss"),
                               (NanBoundary.name, "o", "final_loss"),
                               (BackOff.name, "D", "val_loss")):
        pts = [p for p in probes if p["phase"] == phase]
        ok = [(p["lr"], p[key]) for p in pts if not p["diverged"] and p[key] is not None]
        bad = [p["lr"] for p in pts if p["diverged"]]
        label = {"final_loss": "train loss", "val_loss": "val loss"}[key]
        if ok:
            scan.scatter(*zip(*ok, strict=True), marker=marker,
                         label=f"{PHASES[phase]} ({label})")
        if bad and ceiling:
            scan.scatter(bad, [ceiling] * len(bad), marker="x", color="red")
    stable = ev.max_stable_lr
    if stable is not None:
        scan.axvline(stable, color="green", ls="--", label=f"max stable {stable:.3g}")
    if ev.divergence_lr:
        scan.axvline(ev.divergence_lr, color="red", ls="--",
                     label=f"diverges {ev.divergence_lr:.3g} (x = diverged)")
    scan.axvline(config.optimizer.lr, color="blue", lw=2,
                 label=f"recommended {config.optimizer.lr:.3g}")
    scan.set_xscale("log")
    scan.set_yscale("log")
    scan.set(xlabel="learning rate", ylabel="loss", title="loss against LR")
    scan.legend(fontsize=7)
    fig.suptitle(f"triage lr-find: {config.task} ({config.optimizer.name})")
    _save(fig, path)


def _save(fig: Any, path: str) -> None:
    """Lay out, write the PNG atomically, and free the figure whatever happens."""
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        with atomic.atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)


def _hyperparameters(s: dict[str, Any]) -> str:
    """A trial's settings in one short line."""
    name = "sgd-nesterov" if s.get("optimizer") == "sgd" and s.get("nesterov") else s.get(
        "optimizer")
    parts = [f"{name} lr={s.get('lr', math.nan):.3g}", f"bs={s.get('batch_size')}",
             str(s.get("init"))]
    if s.get("weight_decay"):
        parts.append(f"l2={s['weight_decay']:.2g}")
    if s.get("dropout") is not None:
        parts.append(f"dropout={s['dropout']:.2f}")
    if s.get("grad_clip_norm") is not None:
        parts.append(f"clip={s['grad_clip_norm']:.3g}")
    if s.get("schedule"):
        parts.append(f"k={s['schedule']['after_epochs']},n={s['schedule']['every_epochs']}")
    return " ".join(parts)


def trial_line(trial: FrozenTrial) -> str:
    """One line per finished trial: outcome, evidence and hyperparameters."""
    from triage.sweeper.summary import outcome

    kind = outcome(trial)
    result = trial.user_attrs.get("result") or {}
    if kind == "complete":
        text = f"[green]val loss {trial.value:.4g}[/]"
        if result.get("val_accuracy") is not None:
            text += f" acc {result['val_accuracy']:.1%}"
    elif kind == "pruned":
        text = f"[yellow]pruned[/] after epoch {result.get('epochs')}"
    elif kind == "infeasible":
        text = f"[red]infeasible[/]: {trial.user_attrs['infeasible']}"
    else:
        # A failed trial without an error of its own was failed by a worker that found its
        # heartbeat stale (its worker died or stalled); the retry callback queues it again.
        stale = "heartbeat went stale; retried unless --max-retry is spent"
        reason = trial.user_attrs.get("error") or stale
        text = f"[red]{kind}[/]: {reason}"
    settings = _hyperparameters(trial.user_attrs.get("settings") or {})
    stage = (f"final ({trial.user_attrs['variant']} of #{trial.user_attrs['of']}) "
             if trial.user_attrs.get("stage") == "final" else "")
    measured = (trial.user_attrs.get("boundary") or {}).get("steps")
    cost = f"{result.get('steps', 0)} steps" + (f" + {measured} measuring its boundary"
                                                 if measured else "")
    return f"#{trial.number:<4} {stage}{text}  [dim]{settings} ({cost})[/]"


@contextmanager
def sweep_progress(console: Console, trials: int | None) -> Iterator[Any]:
    """A progress bar over the budget's training steps (over ``trials`` without a budget);
    yields sweep's ``on_budget`` and ``on_trial`` callbacks."""
    with _progress(console, "sweep", trials, "trials") as (progress, bar):
        steps = []

        def on_budget(budget: Budget) -> None:
            steps.append(True)
            progress.console.print(budget_line(budget), highlight=False)
            progress.update(bar, total=budget.total, completed=budget.before, unit="steps")

        def on_trial(trial: FrozenTrial) -> None:
            progress.console.print(trial_line(trial), highlight=False)
            result = trial.user_attrs.get("result") or {}
            measured = (trial.user_attrs.get("boundary") or {}).get("steps") or 0
            progress.update(bar, advance=(result.get("steps") or 0) + measured if steps else 1)

        yield on_budget, on_trial


def budget_line(budget: Budget) -> str:
    """What the sweep may spend, said before it starts."""
    line = (f"budget: {budget.trainings:g} trainings of {budget.training_steps} steps "
            f"({budget.total} steps)")
    if budget.before:
        line += f"; lr-find spent {budget.before}"
    return line + f"; the final stage keeps about {budget.final_runs} of them"


def sweep_summary(summary: SweepSummary) -> Table:
    """The best trial, the study's tally and any edge-of-range warnings."""
    table = Table(title=f"sweep: {summary.study}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items()))
    table.add_row("trials", f"{counts or 'none'} ({summary.steps} training steps)")
    if summary.budget is not None:
        parts = ", ".join(f"{summary.spent[k]} {name}" for k, name in SPENT if summary.spent[k])
        b = summary.budget
        table.add_row("budget", f"{b['spent_trainings']:g} of {b['trainings']:g} trainings "
                      f"spent ({summary.spent['total']} steps: {parts})")
    config = summary.best
    if config is None:
        table.add_row("[red]best[/]", "[red]no feasible trial finished[/]")
        return table
    ev = config.sweep or {}
    o = config.optimizer
    best = f"trial {ev.get('best_trial')}: val loss {ev.get('val_loss'):.4g}"
    if ev.get("val_accuracy") is not None:
        best += f", accuracy {ev['val_accuracy']:.1%}"
    table.add_row("[green]best[/]", best)
    if summary.rule:
        table.add_row("chosen by", summary.rule)
    table.add_row("optimizer", f"{_updater(o)}, lr {o.lr:.3g}, L2 {o.weight_decay:.2g}")
    table.add_row("batch size / init", f"{config.batch_size} / {config.init}")
    if config.schedule is not None:
        s = config.schedule
        table.add_row("schedule", f"after {s.after_epochs} epochs divide the LR by {s.factor:g} "
                      f"every {s.every_epochs}")
    if config.dropout is not None:
        table.add_row("dropout", f"{config.dropout:.3g}")
    if config.grad_clip_norm is not None:
        table.add_row("grad clip", f"{config.grad_clip_norm:.3g}")
    if summary.importances:
        table.add_row("what mattered", ", ".join(
            f"{name} {share:.0%}" for name, share in list(summary.importances.items())[:4]))
    for name, item in summary.fixed.items():
        table.add_row("fixed early", f"{name} = {item['value']}: {item['why']}")
    for warning in summary.edges:
        table.add_row("[yellow]edge[/]", f"[yellow]{warning}[/]")
    return table


def plot_sweep(summary: SweepSummary, path: str) -> None:
    """The optimisation history over the training steps spent, the loss against the LR, and
    what mattered (each setting's importance for validation loss), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summary.table
    fig, (history, lr, mattered) = plt.subplots(1, 3, figsize=(16, 4.5))
    if len(table):
        cost = table["steps"].fillna(0) + table["boundary_steps"].fillna(0)
        table = table.assign(spent=summary.spent.get("lr_find", 0) + cost.cumsum())
    styles = {"complete": ("o", "tab:blue"), "pruned": ("x", "tab:gray"),
              "infeasible": ("v", "tab:red")}
    for kind, (marker, color) in styles.items():
        rows = table[table["outcome"] == kind] if len(table) else table
        ys = rows["value"] if kind != "pruned" else rows["val_loss"]
        xs = rows["spent"] if len(rows) else rows["trial"]
        history.scatter(xs, ys, marker=marker, color=color, label=kind, s=18)
        lr.scatter(rows["lr"], ys, marker=marker, color=color, label=kind, s=18)
    done = table[table["outcome"] == "complete"] if len(table) else table
    if len(done):
        history.step(done["spent"], done["value"].cummin(), where="post", color="tab:green",
                     label="best so far")
    history.set(xlabel="training steps spent (lr-find, boundaries and trials)",
                ylabel="validation loss (infeasible: penalty)",
                title="history (pruned: loss when stopped)")
    if summary.budget is not None:
        history.axvline(summary.budget["trainings"] * summary.budget["training_steps"],
                        color="black", ls=":", label="budget")
    lr.set_xscale("log")
    lr.set(xlabel="learning rate", ylabel="validation loss", title="loss against LR")
    names = list(summary.importances)[::-1]
    mattered.barh(names, [summary.importances[n] for n in names], color="tab:purple")
    mattered.set(xlabel="importance for validation loss (PED-ANOVA)",
                 title="what mattered" if names else "what mattered (too few trials)")
    for ax in (history, lr):
        ax.legend(fontsize=7)
    fig.suptitle(f"triage sweep: {summary.study}")
    _save(fig, path)


# -- doctor ----------------------------------------------------------------------------------

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


@contextmanager
def stage_progress(console: Console) -> Iterator[Any]:
    """A transient spinner naming doctor's current stage; yields the ``on_stage`` callback."""
    with console.status("doctor: starting", spinner="dots") as status:
        yield lambda text: status.update(f"doctor: {text}")


def _evidence(evidence: dict[str, Any], limit: int = 4) -> str:
    parts = []
    for key, value in list(evidence.items())[:limit]:
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, (list, dict)) and len(str(value)) > 40:
            value = str(value)[:37] + "..."
        parts.append(f"{key}={value}")
    return ", ".join(parts)


HEADLINE = 3  # findings at warning or above that doctor shows without --all


def headline(findings: list[Any]) -> list[Any]:
    """What doctor says by default: the causes at warning or above (findings no other one
    explains), strongest first, at most ``HEADLINE``; without any, the first notes."""
    causes = [f for f in findings if not f.caused_by]
    loud = [f for f in causes if str(f.severity) in ("error", "warning")]
    return (loud or causes)[:HEADLINE]


def doctor_summary(diagnosis: Diagnosis, show_all: bool = False) -> Table:
    """Findings, most severe first: code, message, fix, evidence and source; by default only
    the ``headline`` (the rest behind ``show_all``)."""
    counts = {s: sum(str(f.severity) == s for f in diagnosis.findings) for s in _SEVERITY_STYLE}
    title = (f"triage doctor: {counts['error']} error(s), {counts['warning']} warning(s), "
             f"{counts['info']} note(s) in {diagnosis.seconds:.1f} s")
    if diagnosis.shortened:
        cut = ", ".join(f"{name} {ran}/{wanted}"
                        for name, (wanted, ran) in diagnosis.shortened.items())
        seconds = diagnosis.evidence.budget.seconds
        title += (f"\nprobes shortened (steps run/wanted: {cut}): large batches run as many "
                  "examples as 300 steps of 32"
                  + (f", and every probe fits the {seconds:g} s budget (--budget)"
                     if seconds is not None else ""))
    table = Table(title=title, show_lines=True, title_justify="left")
    table.add_column("severity", no_wrap=True)
    table.add_column("finding")
    if not diagnosis.findings:
        table.add_row("[green]ok[/]", "no problems found by the data, model and training checks")
    shown = diagnosis.findings if show_all else headline(diagnosis.findings)
    hidden = len(diagnosis.findings) - len(shown)
    if hidden:
        table.caption = (f"{hidden} more finding(s) (consequences of these, further causes, "
                         "notes): --all shows them; --json has every one")
        table.caption_justify = "left"
    for f in shown:
        sev = str(f.severity)
        label = f"[{_SEVERITY_STYLE[sev]}]{sev}[/]"
        if f.caused_by:  # a consequence: under its cause, whose fix comes first
            table.add_row(f"  [dim]↳[/] {label}",
                          f"[bold]{f.code}[/] [dim]({f.family}; explained by {f.caused_by}: fix "
                          f"that first)[/]\n{escape(f.message)}{_verified(f)}")
            continue
        text = (f"[bold]{f.code}[/] [dim]({f.family})[/]\n{escape(f.message)}\n"
                f"[green]fix:[/] {escape(f.fix)}{_verified(f)}\n[dim]evidence: "
                f"{escape(_evidence(f.evidence))}\nsource: {f.source}[/]")
        table.add_row(label, text)
    return table


def _verified(f: Any) -> str:
    """What trying a finding's fix measured (nothing when it was not tried)."""
    v = f.verified
    if not v:
        return ""
    if not v.get("tried", True):
        return f"\n[dim]not tried: {escape(str(v.get('why', '')))}[/]"
    style = "green" if v.get("helped") else "yellow"
    return f"\n[{style}]verified:[/] {escape(str(v.get('summary', '')))}"


def epoch_line(epoch: Any, total: int) -> str:
    """One line per finished training epoch."""
    parts = [f"epoch {epoch.epoch:>3}/{total}"]
    for label, value in (("train loss", epoch.train_loss), ("val loss", epoch.val_loss)):
        parts.append(f"{label} {'-' if value is None else f'{value:.4g}'}")
    if epoch.val_accuracy is not None:
        parts.append(f"acc {epoch.val_accuracy:.1%}")
    return "  ".join(parts)


def train_summary(result: Any, out_dir: str) -> Table:
    """The human summary of a training run."""
    table = Table(title="train", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    doc = result.metrics()
    best, final = doc["best"], doc["final"]
    if best is not None:
        acc = f", accuracy {best['val_accuracy']:.1%}" if best["val_accuracy"] is not None else ""
        table.add_row("[green]best epoch[/]",
                      f"[green]{best['epoch']}: val loss {best['val_loss']:.4g}{acc}[/]")
    if final is not None:
        last = "-" if final["val_loss"] is None else f"{final['val_loss']:.4g}"
        table.add_row("last epoch", f"{final['epoch']}: val loss {last}")
    if result.stopped_early:
        table.add_row("stopped", "early: no better validation loss within --patience epochs")
    if result.diverged:
        table.add_row("[red]diverged[/]", f"[red]{result.diverged}[/]")
    table.add_row("steps / wall time", f"{result.steps} steps, {result.wall_time:.1f} s")
    table.add_row("written", f"{out_dir}/model.pt (the best epoch's weights), "
                  f"{out_dir}/metrics.json, {out_dir}/curves.png")
    return table


def plot_curves(result: Any, path: str) -> None:
    """Training and validation loss (and accuracy) per epoch, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [e.epoch for e in result.curve]
    fig, loss_ax = plt.subplots(figsize=(7, 4))
    for key, label in (("train_loss", "train loss"), ("val_loss", "val loss")):
        values = [getattr(e, key) for e in result.curve]
        loss_ax.plot(epochs, [math.nan if v is None else v for v in values], marker="o",
                     label=label)
    if result.best_epoch:
        loss_ax.axvline(result.best_epoch, color="green", ls="--", label="best epoch")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    accuracies = [e.val_accuracy for e in result.curve]
    if any(a is not None for a in accuracies):
        acc_ax = loss_ax.twinx()
        acc_ax.plot(epochs, [math.nan if a is None else a for a in accuracies], color="grey",
                    ls=":", label="val accuracy")
        acc_ax.set_ylabel("accuracy")
    loss_ax.legend(loc="upper right")
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
