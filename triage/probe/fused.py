"""K probes fused into one set of kernels: ``torch.func`` over stacked copies of the model.

For the small models people triage, a GPU training step is bound by kernel launches, not
arithmetic, so K copies stacked along a new leading dimension and run by one ``vmap``ped
forward and backward cost about what one copy costs. The copies share the initial weights (one
model built under the probe's seed, as a sequential probe builds it) and every batch (one data
order, as sequential probes see it); each has its own parameters, its own optimizer with its
own learning rate (so every updater works, not only SGD), its own buffers (BatchNorm's running
statistics, stacked into the call and written back after it), its own instruments and its own
divergence watch. A copy that diverges stops counting and is left out of the stack; its NaNs
never reach the others, whose gradients do not depend on it.

What cannot be fused runs one probe at a time instead (``fusable`` says why): probes that differ
in more than the LR, epoch-based or scheduled probes, gradient clipping, float16 loss scaling,
optimizers that step with a closure, and models whose training forward draws random numbers
(dropout: its masks would differ from the sequential probe's).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from triage import interrupt
from triage.data import batches, first_batch, to_device
from triage.optimizers import make_optimizer, needs_closure
from triage.probe.device import autocast, resolve_device
from triage.probe.monitor import DivergenceWatch, GradientMonitor, dead_relu_fraction
from triage.probe.pool import Pool
from triage.probe.result import ProbeResult
from triage.probe.runner import _place, evaluate, probe_model
from triage.probe.settings import ProbeSettings
from triage.rng import seeded
from triage.task import PreparedTask

_RANDOM = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def fusable(prepared: PreparedTask, settings: Sequence[ProbeSettings]) -> str | None:
    """None when ``settings`` can train fused on ``prepared``, else the reason in words."""
    first = settings[0]
    same = {**first.to_dict(), "lr": None}
    if any({**s.to_dict(), "lr": None} != same for s in settings):
        return "the probes differ in more than the learning rate"
    if first.steps is None or first.schedule is not None or first.grad_clip_norm is not None:
        return "epoch-based, scheduled or clipped probes"
    if first.precision == "16-mixed":
        return "float16 loss scaling"
    with seeded(first.seed):
        model = probe_model(prepared, first)
    for module in model.modules():
        if isinstance(module, _RANDOM) and module.p > 0:
            return f"{type(module).__name__} draws random masks"
    probe = make_optimizer(first.optimizer, model.parameters(), first.lr,
                           momentum=first.momentum, nesterov=first.nesterov,
                           weight_decay=first.weight_decay,
                           factory=prepared.task.optimizer_factory)
    if needs_closure(probe):
        return f"{type(probe).__name__} steps with a closure"
    return None


class _Functional(nn.Module):
    """Stands for the model inside ``vmap``: calls the template with one copy's tensors."""

    def __init__(self, template: nn.Module) -> None:
        super().__init__()
        self.template = template
        self.tensors: dict[str, torch.Tensor] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return torch.func.functional_call(self.template, self.tensors, args, kwargs)


def run_fused(prepared: PreparedTask, settings: Sequence[ProbeSettings]) -> list[ProbeResult]:
    """Train one probe per settings (they differ only in ``lr``; see ``fusable``) at once.

    Raises:
        TriageError: as ``run_probe`` does; a model ``vmap`` cannot run raises too (the caller
            falls back to one probe at a time).
    """
    first = settings[0]
    device = resolve_device(first.device)
    with seeded(first.seed) as generator:
        template = probe_model(prepared, first).to(device)
        copies = [copy.deepcopy(template) for _ in settings]
        optimizers = [make_optimizer(s.optimizer, c.parameters(), s.lr, momentum=s.momentum,
                                     nesterov=s.nesterov, weight_decay=s.weight_decay,
                                     factory=prepared.task.optimizer_factory)
                      for s, c in zip(settings, copies, strict=True)]
        monitors = [GradientMonitor(c) for c in copies]
        watches = [DivergenceWatch(check_every=1 if device.type == "cpu" else 10)
                   for _ in settings]
        steps = _train(prepared, first, template, copies, optimizers, monitors, watches,
                       device, generator)
    results = []
    batch = to_device(first_batch(prepared.train, 256), device)
    for s, model, monitor, watch, n in zip(settings, copies, monitors, watches, steps,
                                           strict=True):
        grad_norm, ratios = monitor.summary()
        result = ProbeResult(settings=s, steps=n, losses=watch.losses,
                             diverged=watch.reason is not None, divergence_step=watch.step,
                             divergence_reason=watch.reason, grad_norm=grad_norm,
                             update_ratio=ratios)
        if s.evaluate and not result.diverged:
            result.val_loss, result.val_accuracy = evaluate(prepared, model, device,
                                                            s.precision)
        result.dead_relu_fraction = dead_relu_fraction(
            model, lambda m=model: prepared.step(m, batch))  # type: ignore[misc]
        results.append(result)
    return results


def _train(prepared: PreparedTask, first: ProbeSettings, template: nn.Module,
           copies: list[nn.Module], optimizers: list[torch.optim.Optimizer],
           monitors: list[GradientMonitor], watches: list[DivergenceWatch],
           device: torch.device, generator: torch.Generator) -> list[int]:
    """The shared loop; returns each copy's steps."""
    proxy = _Functional(template)
    params = [dict(c.named_parameters()) for c in copies]
    buffers = [dict(c.named_buffers()) for c in copies]  # per copy: BatchNorm updates them

    def loss_of(tensors: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                batch: object) -> torch.Tensor:
        proxy.tensors = {**tensors, **state}
        return prepared.step(proxy, batch).loss

    fused = torch.func.vmap(loss_of, in_dims=(0, 0, None), randomness="error")
    amp = autocast(first.precision, device)
    train = _place(prepared.train, device)
    total, step = first.steps or 0, 0
    steps = [total] * len(copies)
    alive = list(range(len(copies)))
    for model in copies:
        model.train()
    while step < total and alive:
        for batch in batches(train, first.batch_size, device, generator):
            interrupt.check()
            stacked = {name: torch.stack([params[k][name] for k in alive])
                       for name in params[0]}
            state = {name: torch.stack([buffers[k][name] for k in alive])
                     for name in buffers[0]}
            with amp:
                losses = fused(stacked, state, batch)
            with torch.no_grad():  # running statistics updated in place, copy by copy
                for name, stack in state.items():
                    for i, k in enumerate(alive):
                        buffers[k][name].copy_(stack[i])
            for k in alive:
                optimizers[k].zero_grad(set_to_none=True)
            losses.sum().backward()  # each copy's gradient is its own loss's
            stopped = []
            for i, k in enumerate(alive):
                sampled = monitors[k].wants(step)
                if sampled:
                    monitors[k].before_step(None)
                optimizers[k].step()
                if sampled:
                    monitors[k].after_step()
                if watches[k].add(losses[i].detach()):
                    stopped.append(k)
                    steps[k] = step + 1
            step += 1
            alive = [k for k in alive if k not in stopped]
            if step >= total or not alive:
                break
    for k in alive:
        if not watches[k].flush():
            last = monitors[k].last_grad_norm()
            if last is not None and not math.isfinite(last):
                watches[k].fail(step - 1, "non-finite gradient")
    return steps


class FusedPool(Pool):
    """Runs probes fused, with the interface of ``ProbePool``: submitted probes wait until a
    result is asked for, then every waiting probe that differs only in LR from it (up to
    ``size``) trains in one fused run. A model ``vmap`` cannot run (data-dependent control
    flow, ``.item()`` in the step, ...) falls back to one probe at a time for the rest of the
    run, and ``fell_back`` says why.

    Args:
        prepared: the task.
        size: copies fused at once.
    """

    def __init__(self, prepared: PreparedTask, size: int) -> None:
        super().__init__(prepared, size)
        self.fell_back: str | None = None
        self._queue: dict[int, ProbeSettings] = {}
        self._done: dict[int, ProbeResult] = {}

    @property
    def busy(self) -> int:
        return len(self._queue)

    def submit(self, settings: ProbeSettings) -> int:
        ticket = self._ticket()
        self._queue[ticket] = settings
        return ticket

    def result(self, ticket: int) -> ProbeResult:
        if ticket not in self._done:
            wanted = {**self._queue[ticket].to_dict(), "lr": None}
            group = [t for t, s in self._queue.items() if {**s.to_dict(), "lr": None} == wanted]
            group = [ticket, *[t for t in group if t != ticket][: self.size - 1]]
            settings = [self._queue.pop(t) for t in group]
            self._done.update(zip(group, self._train(settings), strict=True))
        return self._done.pop(ticket)

    def close(self) -> None:
        self._queue.clear()

    def _train(self, settings: list[ProbeSettings]) -> list[ProbeResult]:
        from triage.errors import TriageError
        from triage.probe.runner import run_probe

        if self.fell_back is None:
            try:
                return run_fused(self.prepared, settings)
            except TriageError:
                raise
            except Exception as exc:  # vmap cannot run this model: say so once, go on
                self.fell_back = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        return [run_probe(self.prepared, s) for s in settings]
