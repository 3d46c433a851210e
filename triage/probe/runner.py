"""The probe engine: short, instrumented training runs, each on a fresh model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from triage import interrupt
from triage.builders import apply_dropout, apply_init, make_scheduler
from triage.data import Data, TensorData, batch_size, batches, first_batch, to_device
from triage.errors import ProbeError, SettingsError, TriageError, first_line
from triage.optimizers import make_optimizer, needs_closure
from triage.probe.callbacks import ProbeCallback, wants_epochs
from triage.probe.device import autocast, grad_scaler, is_oom, release_memory, resolve_device
from triage.probe.monitor import DivergenceWatch, GradientMonitor, dead_relu_fraction
from triage.probe.result import ProbeResult
from triage.probe.settings import ProbeSettings
from triage.rng import seeded
from triage.step import primary, targets
from triage.task import PreparedTask, Task, build_model

EVAL_BATCH = 1024


def run_probes(
    task: Task | PreparedTask,
    settings: Sequence[ProbeSettings],
    *,
    split_seed: int = 0,
    on_result: Callable[[ProbeResult], None] | None = None,
    callbacks: Sequence[ProbeCallback] = (),
) -> list[ProbeResult]:
    """Run one probe per settings, in order, and return their evidence.

    Every probe builds a fresh model from the task's factory under its own seed; the caller's
    global random state is left as it was.

    Args:
        task: the task (validated and split on first use) or an already prepared one.
        settings: one entry per probe.
        split_seed: seeds the validation hold-out when the task has no ``val``.
        on_result: called with each result as soon as it is ready.
        callbacks: hooks called inside every probe (see ``ProbeCallback``).
    """
    prepared = task if isinstance(task, PreparedTask) else task.prepare(split_seed)
    results = []
    for item in settings:
        result = run_probe(prepared, item, callbacks)
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


def run_probe(
    prepared: PreparedTask, settings: ProbeSettings, callbacks: Sequence[ProbeCallback] = ()
) -> ProbeResult:
    """Train a fresh model with ``settings`` and collect its evidence.

    With callbacks, the validation loss is measured after every complete epoch, recorded in
    ``epoch_val_losses`` and handed to each callback's ``on_epoch_end``; any of them returning
    True stops the probe.
    """
    device = resolve_device(settings.device)
    started = time.perf_counter()
    # On a GPU, read losses back every 10 steps only; on the CPU reading is free.
    watch = DivergenceWatch(check_every=1 if device.type == "cpu" else 10)
    with seeded(settings.seed) as generator:
        try:
            result = _instrumented_run(prepared, settings, device, generator, watch, callbacks)
        except TriageError:
            raise
        except Exception as exc:
            if not is_oom(exc):
                raise ProbeError(
                    f"training raised {type(exc).__name__} at lr={settings.lr:g}: "
                    f"{first_line(exc)}; check the model and data"
                ) from exc
            release_memory(device)
            watch.flush()
            result = ProbeResult(settings=settings, steps=len(watch.losses), losses=watch.losses,
                                 oom=True, divergence_reason="out of memory")
    result.wall_time = time.perf_counter() - started
    return result


def _instrumented_run(
    prepared: PreparedTask,
    settings: ProbeSettings,
    device: torch.device,
    generator: torch.Generator,
    watch: DivergenceWatch,
    callbacks: Sequence[ProbeCallback],
) -> ProbeResult:
    model = probe_model(prepared, settings).to(device)
    monitor = GradientMonitor(model)
    per_epoch = prepared.steps_per_epoch(settings.batch_size)
    epoch_losses: list[float | None] = []

    def on_epoch_end(epoch: int) -> bool:
        val_loss, accuracy = evaluate(prepared, model, device, settings.precision)
        epoch_losses.append(val_loss)
        watch.flush()
        recent = [v for v in watch.losses[-per_epoch:] if math.isfinite(v)]
        metrics = {"train_loss": sum(recent) / len(recent) if recent else None,
                   "val_loss": val_loss, "val_accuracy": accuracy}
        for callback in callbacks:
            callback.on_epoch_metrics(epoch, metrics, model)
        return any([cb.on_epoch_end(epoch, val_loss) for cb in callbacks])  # every hook runs

    steps = _train(prepared, settings, model, device, generator, watch, monitor,
                   on_epoch_end if wants_epochs(callbacks) else None, callbacks)
    grad_norm, ratios = monitor.summary()
    result = ProbeResult(
        settings=settings, steps=steps, losses=watch.losses, diverged=watch.reason is not None,
        divergence_step=watch.step, divergence_reason=watch.reason, grad_norm=grad_norm,
        update_ratio=ratios, epoch_val_losses=epoch_losses,
        stopped_early=watch.reason is None and steps < _planned_steps(prepared, settings),
    )
    if settings.evaluate and not result.diverged:
        result.val_loss, result.val_accuracy = evaluate(prepared, model, device,
                                                        settings.precision)
    batch = to_device(first_batch(prepared.train, 256), device)
    result.dead_relu_fraction = dead_relu_fraction(model, lambda: prepared.step(model, batch))
    return result


def probe_model(prepared: PreparedTask, settings: ProbeSettings) -> nn.Module:
    """A fresh model as a probe with ``settings`` trains it: the task's factory, then the
    settings' init and dropout (the caller seeds it)."""
    return apply_dropout(apply_init(build_model(prepared.task), settings.init), settings.dropout)


def _train(
    prepared: PreparedTask,
    settings: ProbeSettings,
    model: nn.Module,
    device: torch.device,
    generator: torch.Generator,
    watch: DivergenceWatch,
    monitor: GradientMonitor,
    on_epoch_end: Callable[[int], bool] | None = None,
    callbacks: Sequence[ProbeCallback] = (),
) -> int:
    optimizer = make_optimizer(
        settings.optimizer, model.parameters(), settings.lr, momentum=settings.momentum,
        nesterov=settings.nesterov, weight_decay=settings.weight_decay,
        factory=prepared.task.optimizer_factory,
    )
    scheduler = make_scheduler(optimizer, settings.schedule)
    train = _place(prepared.train, device)
    step_fn, params = prepared.step, list(model.parameters())
    scaler, closure = grad_scaler(settings.precision, device), needs_closure(optimizer)
    if scaler is not None and closure:
        raise SettingsError(f"{type(optimizer).__name__} steps with a closure, which float16 "
                            "loss scaling cannot run; use --precision bf16 or 32")
    amp = autocast(settings.precision, device)  # one context, entered every step
    total = _planned_steps(prepared, settings)
    per_epoch, step, epoch = prepared.steps_per_epoch(settings.batch_size), 0, 0
    stop = diverged = False

    def backward(batch: object) -> tuple[torch.Tensor, torch.Tensor | None]:
        with amp:
            loss = step_fn(model, batch).loss
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
        else:  # gradients unscaled before clipping and the instruments read them
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        norm = (torch.nn.utils.clip_grad_norm_(params, settings.grad_clip_norm)
                if settings.grad_clip_norm is not None else None)
        return loss, norm

    def observe(norm: torch.Tensor | None) -> bool:  # gradients at the point the step starts
        for callback in callbacks:
            callback.on_backward(step, model)
        sampled = monitor.wants(step)
        if sampled:
            monitor.before_step(norm)
        return sampled

    model.train()
    while step < total and not stop:
        in_epoch = 0
        for batch in batches(train, settings.batch_size, device, generator):
            interrupt.check()  # a Ctrl-C lost in a finaliser is raised here
            if closure:
                loss, sampled = _closure_step(optimizer, batch, backward, observe)
            else:
                loss, norm = backward(batch)
                sampled = observe(norm)
                if scaler is None:
                    optimizer.step()
                else:  # a step whose gradients overflowed is skipped and the scale lowered
                    scaler.step(optimizer)
                    scaler.update()
            if sampled:
                monitor.after_step()
            diverged = watch.add(loss)
            step += 1
            in_epoch += 1
            if diverged or step >= total:
                break
        if diverged:
            break
        if in_epoch == per_epoch:  # a complete epoch
            epoch += 1
            if scheduler is not None:
                scheduler.step()
            if on_epoch_end is not None:
                stop = on_epoch_end(epoch)
    if not watch.flush():
        last = monitor.last_grad_norm()  # (an overflow under loss scaling is a skipped step)
        if scaler is None and last is not None and not math.isfinite(last):
            watch.fail(step - 1, "non-finite gradient")
    return step


def _closure_step(
    optimizer: torch.optim.Optimizer,
    batch: object,
    backward: Callable[[object], tuple[torch.Tensor, torch.Tensor | None]],
    observe: Callable[[torch.Tensor | None], bool],
) -> tuple[torch.Tensor, bool]:
    """One step of an optimizer that re-evaluates the loss through a closure (LBFGS): the
    first evaluation is the step's loss and the one the instruments observe."""
    first: list[tuple[torch.Tensor, bool]] = []

    def evaluate() -> torch.Tensor:
        loss, norm = backward(batch)
        if not first:
            first.append((loss, observe(norm)))
        return loss

    optimizer.step(evaluate)
    return first[0]


def _planned_steps(prepared: PreparedTask, settings: ProbeSettings) -> int:
    return settings.steps or prepared.budget_steps(settings.batch_size, settings.epochs)


def _place(data: Data, device: torch.device) -> Data:
    """Tensor data moves to the device once; if it does not fit, batches move one at a time."""
    if not isinstance(data, TensorData):
        return data
    try:
        return data.to(device)
    except Exception as exc:
        if not is_oom(exc):
            raise
        release_memory(device)
        return data


def evaluate(
    prepared: PreparedTask, model: nn.Module, device: torch.device, precision: str = "32"
) -> tuple[float | None, float | None]:
    """Mean validation loss and accuracy over the validation set, under ``eval()`` and
    ``no_grad()``: the task's ``evaluate`` metrics when it has one (``loss``, ``accuracy``),
    else the step's loss and, for a known classification loss, accuracy."""
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    count = 0
    custom = prepared.task.evaluate
    scored = prepared.accuracy is not None
    with torch.no_grad(), autocast(precision, device):
        for batch in batches(prepared.val, EVAL_BATCH, device):
            n = batch_size(batch)
            if custom is not None:
                metrics = custom(model, batch)
                total_loss += torch.as_tensor(metrics["loss"], device=device).float() * n
                scored = "accuracy" in metrics
                if scored:
                    correct += torch.as_tensor(metrics["accuracy"], device=device).float() * n
                count += n
                continue
            loss, out = prepared.step(model, batch)
            total_loss += loss.float() * n
            yb = targets(batch)
            if scored and yb is not None:
                correct += _correct(prepared.accuracy, primary(out), yb)
            count += n
    model.train()
    loss = float(total_loss) / count
    accuracy = float(correct) / count if scored else None
    return (loss if math.isfinite(loss) else None), accuracy


def _correct(rule: str | None, out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """How many predictions in a batch are right, by the loss table's accuracy rule."""
    if rule == "multiclass":
        if yb.is_floating_point() and yb.shape == out.shape:  # one-hot or soft targets
            yb = yb.argmax(dim=-1)
            right = out.argmax(dim=-1) == yb
        elif out.ndim >= 3 and yb.shape == out.shape[:1] + out.shape[2:]:
            right = out.argmax(dim=1) == yb  # (N, classes, d1, ...): a label per position
        else:
            right = out.argmax(dim=-1) == yb
    else:
        cut = 0.0 if rule == "binary" else 0.5
        right = (out > cut).to(yb.dtype) == (yb > 0.5).to(yb.dtype)
    # several labels per sample (multi-label, per position): each sample counts its share
    return right.reshape(len(right), -1).float().mean(dim=1).sum()
