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
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from triage.optimizers import needs_closure
from triage.probe import loop
from triage.probe.device import autocast, resolve_device
from triage.probe.monitor import GradientMonitor
from triage.probe.pool import Pool
from triage.probe.result import ProbeResult
from triage.probe.runner import lane_result, probe_model, sample_batch
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
    if first.world_size > 1:
        return "several workers' micro-batches a step"
    with seeded(first.seed):
        model = probe_model(prepared, first)
    for module in model.modules():
        if isinstance(module, _RANDOM) and module.p > 0:
            return f"{type(module).__name__} draws random masks"
    probe = first.make_optimizer(model.parameters(), prepared.task.optimizer_factory)
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
        lanes = [loop.Lane(s.make_optimizer(c.parameters(), prepared.task.optimizer_factory),
                           GradientMonitor(c),
                           loop.new_watch(device, first.effective_batch_size))
                 for s, c in zip(settings, copies, strict=True)]
        by_lane = {id(lane): c for lane, c in zip(lanes, copies, strict=True)}
        stepper = _Stacked(prepared, first, template, by_lane, device)
        loop.train(prepared, first, lanes, stepper, device, generator)
    batch = sample_batch(prepared, device)
    return [lane_result(prepared, s, model, lane, device, batch)
            for s, model, lane in zip(settings, copies, lanes, strict=True)]


class _Stacked(loop.Stepper):
    """K copies as one ``vmap``ped forward and backward; each lane steps its own optimizer."""

    def __init__(self, prepared: PreparedTask, first: ProbeSettings, template: nn.Module,
                 copies: dict[int, nn.Module], device: torch.device) -> None:
        """``copies``: each lane's model, by the lane's ``id``."""
        self.index = {lane: k for k, lane in enumerate(copies)}
        proxy = _Functional(template)
        self.params = [dict(c.named_parameters()) for c in copies.values()]
        self.buffers = [dict(c.named_buffers()) for c in copies.values()]  # BatchNorm's

        def loss_of(tensors: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                    batch: object) -> torch.Tensor:
            proxy.tensors = {**tensors, **state}
            return prepared.step(proxy, batch).loss

        self.fused = torch.func.vmap(loss_of, in_dims=(0, 0, None), randomness="error")
        self.amp = autocast(first.precision, device)
        for model in copies.values():
            model.train()

    def step(self, batch: object, lanes: list[loop.Lane], step: int) -> list[torch.Tensor]:
        alive = [self.index[id(lane)] for lane in lanes]
        params, buffers = self.params, self.buffers
        stacked = {name: torch.stack([params[k][name] for k in alive]) for name in params[0]}
        state = {name: torch.stack([buffers[k][name] for k in alive]) for name in buffers[0]}
        with self.amp:
            losses = self.fused(stacked, state, batch)
        with torch.no_grad():  # running statistics updated in place, copy by copy
            for name, stack in state.items():
                for i, k in enumerate(alive):
                    buffers[k][name].copy_(stack[i])
        for lane in lanes:
            lane.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # each copy's gradient is its own loss's
        for lane in lanes:
            lane.update(lane.observe(step, None))
        return list(losses.detach())


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
