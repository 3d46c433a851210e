"""The probe engine: short, instrumented training runs, each on a fresh model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from triage import interrupt
from triage.builders import apply_dropout, apply_init
from triage.data import batch_size, batches, first_batch, split_batch, to_device
from triage.errors import (
    DataParallelError,
    ProbeError,
    SettingsError,
    TriageError,
    first_line,
)
from triage.optimizers import needs_closure
from triage.probe import group, loop
from triage.probe.callbacks import ProbeCallback, wants_epochs
from triage.probe.device import autocast, grad_scaler, is_oom, release_memory, resolve_device
from triage.probe.group import Job
from triage.probe.monitor import (
    DivergenceWatch,
    GradientMonitor,
    NoiseScale,
    dead_relu_fraction,
    global_grad_norm,
)
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
    prepared: PreparedTask, settings: ProbeSettings, callbacks: Sequence[ProbeCallback] = (),
    *, explosions: bool = True,
) -> ProbeResult:
    """Train a fresh model with ``settings`` and collect its evidence.

    With callbacks, the validation loss is measured after every complete epoch, recorded in
    ``epoch_val_losses`` and handed to each callback's ``on_epoch_end``; any of them returning
    True stops the probe. On rank 0 of a torchrun job, a probe for as many workers as the job
    has ranks, on a task the other ranks loaded, trains across them (``triage.probe.group``).
    Without ``explosions``, only a non-finite loss ends the probe as diverged, not a loss
    ``EXPLODE_FACTOR`` times its start (doctor watches whether such a spike recovers).
    """
    job, epochs = _across(prepared, settings), wants_epochs(callbacks)
    if job is not None:
        job.broadcast(("probe", job.index(prepared.task), prepared.seed, settings, epochs,
                       explosions))
    result = _run(prepared, settings, callbacks, job, epochs, explosions)
    assert result is not None
    return result


def follow(job: Job, prepared: PreparedTask, settings: ProbeSettings, epochs: bool,
           explosions: bool = True) -> None:
    """A follower rank's share of the probe rank 0 announced (``epochs``: rank 0 decides
    after each epoch whether the probe goes on)."""
    _run(prepared, settings, (), job, epochs, explosions)


def _across(prepared: PreparedTask, settings: ProbeSettings) -> Job | None:
    """The torchrun job, if this probe is one of its data-parallel probes and this is rank 0."""
    job = group.current()
    if job is None or not job.leader or settings.world_size != job.size:
        return None
    if job.index(prepared.task) is None or prepared.seed is None \
            or prepared.task.prepare(prepared.seed) is not prepared:
        return None  # data the other ranks cannot rebuild (a doctor subset): rank 0 alone
    return job


def _run(prepared: PreparedTask, settings: ProbeSettings, callbacks: Sequence[ProbeCallback],
         job: Job | None, epochs: bool, explosions: bool = True) -> ProbeResult | None:
    device = resolve_device(settings.device)
    if job is not None:
        device = job.device(device)
        job.probing = True
    started = time.perf_counter()
    watch = loop.new_watch(device, settings.effective_batch_size, explosions)
    with seeded(settings.seed) as generator:
        try:
            result = _instrumented_run(prepared, settings, device, generator, watch, callbacks,
                                       job, epochs)
        except TriageError as exc:
            if job is None:
                raise
            raise _stopped(job, settings, exc) from exc
        except Exception as exc:
            if interrupt.pending():  # torch surfaced the Ctrl-C as its own error mid-step
                raise KeyboardInterrupt from exc
            if job is not None:  # the ranks cannot go on apart (no OOM result either)
                raise (group.lost(job, exc) if _peer_gone(exc) else
                       _stopped(job, settings, exc)) from exc
            if not is_oom(exc):
                raise ProbeError(
                    f"training raised {type(exc).__name__} at lr={settings.lr:g}: "
                    f"{first_line(exc)}; check the model and data"
                ) from exc
            release_memory(device)
            watch.flush()
            result = ProbeResult(settings=settings, steps=len(watch.losses), losses=watch.losses,
                                 oom=True, divergence_reason="out of memory")
    if job is not None:
        job.probing = False
    if result is not None:
        result.wall_time = time.perf_counter() - started
    return result


def _stopped(job: Job, settings: ProbeSettings, exc: BaseException) -> DataParallelError:
    """A data-parallel probe failed on rank 0: the other ranks may be inside a collective
    rank 0 will never join, so the job ends (a sweep does not go on to its next trial)."""
    return DataParallelError(
        f"a probe across the {job.size} ranks failed at lr={settings.lr:g} "
        f"({type(exc).__name__}: {first_line(exc)}); the ranks cannot go on apart, so the job "
        "stops: fix it, then rerun the same command (with --storage) to resume")


def _peer_gone(exc: BaseException) -> bool:
    """A collective failed because another rank is gone (gloo says its connection closed)."""
    import torch.distributed as dist

    text = str(exc)
    return isinstance(exc, dist.DistError) or any(
        sign in text for sign in ("Connection closed by peer", "Connection reset by peer",
                                  "remote worker", "NCCL"))


def _instrumented_run(
    prepared: PreparedTask,
    settings: ProbeSettings,
    device: torch.device,
    generator: torch.Generator,
    watch: DivergenceWatch,
    callbacks: Sequence[ProbeCallback],
    job: Job | None = None,
    epochs: bool = False,
) -> ProbeResult | None:
    model = probe_model(prepared, settings).to(device)
    optimizer = settings.make_optimizer(model.parameters(), prepared.task.optimizer_factory)
    per_epoch = prepared.steps_per_epoch(settings.effective_batch_size)
    lane = loop.Lane(optimizer, GradientMonitor(model), watch,
                     *settings.scheduler(optimizer, per_epoch))
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

    stepper = _Single(prepared, settings, model, optimizer, device, callbacks, job)
    hook = on_epoch_end if epochs else None
    if job is not None and hook is not None:
        hook = _agreed(job, hook)
    steps = loop.train(prepared, settings, [lane], stepper, device, generator, hook)
    if job is not None and not job.leader:
        return None  # rank 0 validates and reports
    return lane_result(
        prepared, settings, model, lane, device, sample_batch(prepared, device),
        epoch_val_losses=epoch_losses, noise_scale=stepper.noise and stepper.noise.value(),
        stopped_early=watch.reason is None and steps < loop.planned_steps(prepared, settings))


def _agreed(job: Job, decide: Callable[[int], bool]) -> Callable[[int], bool]:
    """Rank 0 decides after each epoch whether to stop (it validates); every rank follows."""
    if not job.leader:
        return lambda epoch: bool(job.broadcast())

    def leader(epoch: int) -> bool:
        try:
            stop = decide(epoch)
        except BaseException:
            job.broadcast(True)  # the followers stop with this probe; the error is rank 0's
            raise
        return bool(job.broadcast(stop))

    return leader


def sample_batch(prepared: PreparedTask, device: torch.device) -> object:
    """The batch the dead-unit count reads: the first 256 training samples."""
    return to_device(first_batch(prepared.train, 256), device)


def lane_result(prepared: PreparedTask, settings: ProbeSettings, model: nn.Module,
                lane: loop.Lane, device: torch.device, batch: object,
                **fields: Any) -> ProbeResult:
    """A trained lane's evidence: its losses, divergence, instruments, validation (unless it
    diverged) and dead units on ``batch``; ``fields`` sets the rest."""
    grad_norm, ratios = lane.monitor.summary()
    watch = lane.watch
    result = ProbeResult(
        settings=settings, steps=lane.steps or 0, losses=watch.losses,
        diverged=watch.reason is not None, divergence_step=watch.step,
        divergence_reason=watch.reason, grad_norm=grad_norm, update_ratio=ratios, **fields)
    if settings.evaluate and not result.diverged:
        result.val_loss, result.val_accuracy = evaluate(prepared, model, device,
                                                        settings.precision)
    result.dead_relu_fraction = dead_relu_fraction(model, lambda: prepared.step(model, batch))
    return result


def probe_model(prepared: PreparedTask, settings: ProbeSettings) -> nn.Module:
    """A fresh model as a probe with ``settings`` trains it: the task's factory, then the
    settings' init and dropout (the caller seeds it)."""
    return apply_dropout(apply_init(build_model(prepared.task), settings.init), settings.dropout)


class _Single(loop.Stepper):
    """One model: mixed precision with loss scaling, gradient clipping, callbacks' view of
    the gradients, optimizers that step with a closure (LBFGS), and data-parallel workers:
    under torchrun one micro-batch per rank with DDP (``job``), else emulated by
    accumulating one micro-batch per worker into the step's gradient."""

    def __init__(self, prepared: PreparedTask, settings: ProbeSettings, model: nn.Module,
                 optimizer: torch.optim.Optimizer, device: torch.device,
                 callbacks: Sequence[ProbeCallback], job: Job | None = None) -> None:
        self.step_fn, self.model, self.optimizer = prepared.step, model, optimizer
        self.params, self.clip = list(model.parameters()), settings.grad_clip_norm
        self.callbacks, self.workers = callbacks, settings.world_size
        self.scaler = grad_scaler(settings.precision, device)
        self.noise = (NoiseScale(settings.batch_size, settings.effective_batch_size)
                      if self.workers > 1 and self.scaler is None else None)
        self.closure = needs_closure(optimizer)
        self.scaled = self.scaler is not None
        if self.scaled and self.closure:
            raise SettingsError(f"{type(optimizer).__name__} steps with a closure, which float16 "
                                "loss scaling cannot run; use --precision bf16 or 32")
        self.amp = autocast(settings.precision, device)  # one context, entered every step
        self.shard = None
        if job is not None:
            from triage.probe.ddp import Shard  # torch.distributed's hooks: under torchrun only

            self.shard = Shard(job, prepared, model, device)
        model.train()

    def step(self, batch: object, lanes: list[loop.Lane], step: int) -> list[torch.Tensor]:
        (lane,) = lanes
        if not self.closure:
            loss, norm = self._backward(batch, lane.monitor.wants(step))
            lane.update(self._observe(lane, step, norm), self.scaler)
            return [loss]
        # the closure's first evaluation is the step's loss and the one the instruments see
        first: list[tuple[torch.Tensor, bool]] = []

        def evaluate() -> torch.Tensor:
            loss, norm = self._backward(batch)
            if not first:
                first.append((loss, self._observe(lane, step, norm)))
            return loss

        self.optimizer.step(evaluate)
        loss, sampled = first[0]
        if sampled:
            lane.monitor.after_step()
        return [loss]

    def _backward(self, batch: object, sample: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # the noise scale reads whole batches only: the estimator's two sizes
        sample = sample and self.noise is not None and batch_size(batch) == self.noise.big
        if self.shard is not None:  # this rank's micro-batch; DDP averages the gradients
            self.optimizer.zero_grad(set_to_none=True)
            loss, own = self.shard.backward(batch, self.amp, self._scaled, sample)
            if own is not None:
                self._sample_noise(own)
        elif self.workers == 1:
            with self.amp:
                loss = self.step_fn(self.model, batch).loss
            self.optimizer.zero_grad(set_to_none=True)
            self._scaled(loss).backward()
        else:  # each worker's loss over its share: their mean is the batch's, as under DDP
            self.optimizer.zero_grad(set_to_none=True)
            n, parts = batch_size(batch), split_batch(batch, self.workers)
            loss, before, squares = torch.zeros(()), None, []
            for part in parts:
                with self.amp:
                    share = self.step_fn(self.model, part).loss * (batch_size(part) / n)
                self._scaled(share).backward()
                loss = loss.to(share.device) + share.detach()
                if sample:  # this worker's own gradient: what its share added, unweighted
                    before, own = self._worker_gradient(before, len(parts))
                    squares.append(own)
            if sample:
                self._sample_noise(sum(squares) / len(squares))
        if self.scaler is not None:  # gradients unscaled before clipping and the instruments
            self.scaler.unscale_(self.optimizer)  # read them
        norm = (torch.nn.utils.clip_grad_norm_(self.params, self.clip)
                if self.clip is not None else None)
        return loss, norm

    def _sample_noise(self, own: float) -> None:
        """One step of the noise scale: the workers' mean squared norm of their own gradients
        (``own``) and that of the averaged gradient, now in ``.grad``."""
        assert self.noise is not None
        grads = [p.grad for p in self.params if p.grad is not None]
        self.noise.add(own, float(global_grad_norm(grads)) ** 2)

    def _worker_gradient(self, before: list[torch.Tensor] | None, workers: int
                         ) -> tuple[list[torch.Tensor], float]:
        """(the accumulated gradients now, the squared norm of the last worker's own)."""
        now = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
               for p in self.params]
        added = now if before is None else [a - b for a, b in zip(now, before, strict=True)]
        return now, float(global_grad_norm(added)) ** 2 * workers**2

    def _scaled(self, loss: torch.Tensor) -> torch.Tensor:
        return loss if self.scaler is None else self.scaler.scale(loss)

    def _observe(self, lane: loop.Lane, step: int, norm: torch.Tensor | None) -> bool:
        for callback in self.callbacks:  # gradients at the point the step starts
            callback.on_backward(step, self.model)
        return lane.observe(step, norm)


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
