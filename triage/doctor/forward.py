"""One forward pass at initialisation, instrumented: output, final activation, per-layer scale,
sequence lengths seen by recurrent layers, and the loss at init."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from triage.builders import apply_init
from triage.data import Batch, to_device
from triage.errors import first_line
from triage.probe import ProbeSettings
from triage.probe.device import is_oom, release_memory, resolve_device
from triage.probe.monitor import dead_relu_fraction
from triage.rng import seeded
from triage.step import Step, failure, primary
from triage.task import Task, fresh_model

WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd, nn.Bilinear, nn.RNNBase, nn.Embedding)
ACTIVATIONS: dict[type, str] = {
    nn.ReLU: "relu", nn.ReLU6: "clamp", nn.Hardtanh: "clamp", nn.Sigmoid: "sigmoid",
    nn.Hardsigmoid: "sigmoid", nn.Tanh: "tanh", nn.Softmax: "softmax",
    nn.LogSoftmax: "log_softmax", nn.Softplus: "relu", nn.Threshold: "relu",
}
SATURATING = ("sigmoid", "tanh")
# Output ranges of bounded final activations, for judging them against the targets.
RANGES = {"relu": (0.0, math.inf), "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0),
          "tanh": (-1.0, 1.0), "log_softmax": (-math.inf, 0.0)}
PINNED = 0.5  # share of outputs at a bound that marks a squashing output (see _pinned)


@dataclass
class ForwardInfo:
    """What one batch through the freshly initialised model shows.

    Attributes:
        error: the model, or the loss on its output, raised (one line); nothing else is set.
        output: the model's output on the batch.
        final_activation: ``relu``/``clamp``/``sigmoid``/``tanh``/``softmax``/``log_softmax``
            after the last weighted layer, or None (a linear output).
        layer_std: std of each weighted layer's output, in execution order.
        layer_names: their module names.
        hidden_activations: activation kinds used between weighted layers.
        sequence_lengths: time steps each recurrent layer was fed.
        constant_weights: names of weight tensors whose entries are all equal.
        weight_matrices: names of every parameter with two or more dimensions (layers' weights
            and bare ``nn.Parameter`` matrices of functional code).
        init_loss: the loss on the batch (may be non-finite).
        dead_fraction: share of ReLU units silent on the whole batch.
        saturated: per hidden tanh/sigmoid module, the share of its outputs within 1% of a
            bound (``|tanh| > 0.99``, ``|2 sigmoid - 1| > 0.99``).
        linear_chains: runs of two or more Linear/conv layers, each fed the previous one's
            output directly (reshapes and eval-mode dropout in between keep it linear).
        affine: the whole model is affine in its input (midpoint test on the batch), or None
            where not testable (integer inputs, fewer than 2 samples).
        constant_output: every output unit takes one value for the whole batch while the
            inputs vary.
    """

    error: str | None = None
    output: torch.Tensor | None = None
    final_activation: str | None = None
    layer_std: list[float] = field(default_factory=list)
    layer_names: list[str] = field(default_factory=list)
    hidden_activations: set[str] = field(default_factory=set)
    sequence_lengths: dict[str, int] = field(default_factory=dict)
    constant_weights: list[str] = field(default_factory=list)
    weight_matrices: list[str] = field(default_factory=list)
    init_loss: float | None = None
    dead_fraction: float | None = None
    saturated: dict[str, float] = field(default_factory=dict)
    linear_chains: list[list[str]] = field(default_factory=list)
    affine: bool | None = None
    constant_output: bool = False


def inspect(task: Task, settings: ProbeSettings, X: torch.Tensor, y: torch.Tensor,
            step: Step) -> ForwardInfo:
    """Build a fresh model (with the settings' init, on their device) and run the batch
    ``(X, y)`` through it with ``step``."""
    info = ForwardInfo()
    device = resolve_device(settings.device)
    with seeded(settings.seed):
        model = fresh_model(task)  # a factory that raises is a clear error, not a finding
        try:
            model = apply_init(model, settings.init).to(device)
            batch = to_device((X, y), device)
        except Exception as exc:
            return ForwardInfo(error=first_line(exc))
    info.weight_matrices = [name for name, p in model.named_parameters() if p.ndim >= 2]
    info.constant_weights = [
        name for name, p in model.named_parameters()
        if name.endswith("weight") and p.ndim >= 2 and p.numel() > 1
        and bool((p == p.reshape(-1)[0]).all())]
    order: list[tuple[str, nn.Module, Any, Any]] = []
    names = {m: n for n, m in model.named_modules()}

    snaps: list[tuple[str, Any, Any]] = []

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        order.append((names.get(module, "?"), module, inputs, output))
        if isinstance(module, LINEAR_MAPS):  # values now: a later in-place op changes them
            snaps.append((names.get(module, "?"), _head(inputs[0] if inputs else None),
                          _head(output)))
        elif type(module) in ACTIVATIONS and snaps:
            snaps.append(("", None, None))  # a nonlinearity ran: no chain across it

    leaves = [m for m in model.modules() if not list(m.children()) or isinstance(m, nn.RNNBase)]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, output = step(model, batch)
            out = primary(output)
            if not torch.is_tensor(out):
                return ForwardInfo(error=f"the model returned {type(out).__name__}, not a tensor")
            if not torch.is_tensor(value) or value.numel() != 1:
                return ForwardInfo(error="the loss did not return a scalar tensor")
    except Exception as exc:
        if is_oom(exc):
            release_memory(device)
        where = failure(exc)
        if where is not None and where.part == "loss" and not torch.is_tensor(where.output):
            return ForwardInfo(error=f"the model returned {type(where.output).__name__}, not a "
                               f"tensor the loss accepts ({type(exc).__name__}: "
                               f"{first_line(exc)})")
        return ForwardInfo(error=f"{type(exc).__name__}: {first_line(exc)}")
    finally:
        for handle in handles:
            handle.remove()
    info.output, info.init_loss = out.detach().cpu(), float(value)
    _read_layers(info, order)
    info.linear_chains = _linear_chains(snaps)
    info.final_activation = _final_activation(order)
    # A head equal to the last layer's output is linear, unless that output is non-negative
    # throughout: a ReLU that changes nothing at init looks the same, so ask the values. Constant
    # weights leave the init's signature in the values, not an activation's: no reading.
    if info.final_activation is None and not info.constant_weights and (
            not _straight_from_layer(order, out) or bool((out >= 0).all())):
        info.final_activation = _activation_by_value(model, batch, step, info.output)
    info.dead_fraction = dead_relu_fraction(model, lambda: step(model, batch))
    info.constant_output = _constant(info.output, X)
    info.affine = _affine(model, batch, step)
    return info


def _read_layers(info: ForwardInfo, order: list[tuple[str, nn.Module, Any, Any]]) -> None:
    for name, module, inputs, output in order:
        if isinstance(module, WEIGHTED):
            tensor = output[0] if isinstance(output, tuple) else output
            if torch.is_tensor(tensor) and tensor.is_floating_point() and tensor.numel() > 1:
                info.layer_std.append(float(tensor.float().std()))
                info.layer_names.append(name)
            if isinstance(module, nn.RNNBase) and inputs and torch.is_tensor(inputs[0]):
                x = inputs[0]
                if x.ndim == 3:
                    info.sequence_lengths[name] = int(x.shape[1] if module.batch_first
                                                      else x.shape[0])
                elif x.ndim == 2:
                    info.sequence_lengths[name] = int(x.shape[0])
    last = max((i for i, (_, m, _, _) in enumerate(order) if isinstance(m, WEIGHTED)),
               default=None)
    if last is not None:  # activations before the last weighted layer are hidden ones
        info.hidden_activations = {ACTIVATIONS[type(m)] for _, m, _, _ in order[:last]
                                   if type(m) in ACTIVATIONS}
        info.saturated = {name: _saturation(ACTIVATIONS[type(m)], out)
                          for name, m, _, out in order[:last]
                          if ACTIVATIONS.get(type(m)) in SATURATING and torch.is_tensor(out)}


LINEAR_MAPS = (nn.Linear, nn.modules.conv._ConvNd)
BOUND = 0.99  # a tanh within 1% of +-1 passes about 2% of the gradient it would at 0


def _head(value: Any) -> torch.Tensor | None:
    """A copy of the first samples of a tensor (enough to compare values, cheap to keep)."""
    return value[:8].detach().clone() if torch.is_tensor(value) and value.ndim else None


def _saturation(kind: str, out: torch.Tensor) -> float:
    """Share of a tanh/sigmoid layer's outputs within 1% of a bound."""
    value = out.detach().float()
    value = value if kind == "tanh" else 2 * value - 1
    return float((value.abs() > BOUND).float().mean()) if value.numel() else 0.0


def _linear_chains(snaps: list[tuple[str, Any, Any]]) -> list[list[str]]:
    """Runs of Linear/conv layers each fed the previous one's output unchanged (a reshape or
    an eval-mode dropout between them keeps the values; an activation, even in place, does
    not). ``snaps``: (name, first inputs, first outputs) of each such layer, in run order; an
    activation module run between two of them is marked by a ``None`` entry."""
    chains: list[list[str]] = []
    for (a, _, out), (b, x, _) in itertools.pairwise(snaps):
        if out is None or x is None or out.numel() != x.numel() or \
                not bool((out < 0).any()) or not torch.equal(out.reshape(-1), x.reshape(-1)):
            continue  # (without negative values a ReLU between them would change nothing)
        if chains and chains[-1][-1] == a:
            chains[-1].append(b)
        else:
            chains.append([a, b])
    return chains


def _constant(out: torch.Tensor, X: torch.Tensor) -> bool:
    """Every output unit one value across a batch whose inputs differ."""
    if out.ndim == 0 or len(out) < 2 or not out.is_floating_point() or \
            not bool(torch.isfinite(out).all()):
        return False
    inputs_vary = bool((X.reshape(len(X), -1) != X.reshape(len(X), -1)[:1]).any())
    return inputs_vary and bool((out == out[:1]).all())


def _affine(model: nn.Module, batch: Batch, step: Step) -> bool | None:
    """Whether the model's output at the midpoint of two inputs is the midpoint of their
    outputs (exact for an affine map, up to float rounding), on standard-normal inputs of the
    batch's shape: the data itself may sit in one linear piece of a ReLU network (inputs of
    a huge scale switch every unit fully on or off)."""
    X, y = batch
    if not X.is_floating_point() or len(X) < 2:
        return None
    half = min(len(X) // 2, 32)
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(X[:half].shape, generator=generator).to(X) for _ in range(2))
    outputs = []
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for inputs in (a, b, (a + b) / 2):
                got = primary(step(model, (inputs, y[:half])).output)
                if not torch.is_tensor(got) or got.ndim == 0 or not torch.isfinite(got).all():
                    return None
                outputs.append(got.detach().double())
    except Exception:
        return None
    first, second, mid = outputs
    spread = float((first - second).abs().max())
    if spread == 0 or mid.shape != first.shape:
        return None
    return float((mid - (first + second) / 2).abs().max()) <= 1e-4 * spread


def _final_activation(order: list[tuple[str, nn.Module, Any, Any]]) -> str | None:
    """The last activation module run after the last weighted layer, if any."""
    kind = None
    for _, module, _, _ in order:
        if isinstance(module, WEIGHTED):
            kind = None
        elif type(module) in ACTIVATIONS:
            kind = ACTIVATIONS[type(module)]
    return kind


def _straight_from_layer(order: list[tuple[str, nn.Module, Any, Any]], out: torch.Tensor) -> bool:
    """Whether the output is exactly what the last weighted layer returned (a linear head)."""
    last = [o for _, m, _, o in order if isinstance(m, WEIGHTED)]
    tensor = last[-1][0] if last and isinstance(last[-1], tuple) else (last[-1] if last else None)
    return torch.is_tensor(tensor) and tensor.shape == out.shape and bool(torch.equal(tensor, out))


def _activation_by_value(model: nn.Module, batch: Batch, step: Step,
                         out: torch.Tensor) -> str | None:
    """Functional activations (``torch.softmax(...)`` in ``forward``) leave signatures in the
    output: rows summing to 1, log-sum-exp of 0, exact zeros (also once the inputs are scaled
    by +-100), or a range whose bounds the output sits on when the inputs are scaled up 100x
    (a linear head's would not)."""
    if not out.is_floating_point() or out.numel() < 2 or not torch.isfinite(out).all():
        return None
    rows = out.ndim >= 2 and out.shape[-1] > 1
    if out.ndim >= 2 and out.shape[-1] == 1 and bool((out == 1).all()):
        return "softmax"  # over a single unit: exactly 1 everywhere
    if bool((out == out.reshape(-1)[0]).all()):
        return None  # one value everywhere (zero weights): no signature to read
    if rows and (out >= 0).all() and torch.allclose(out.sum(-1), out.new_ones(()), atol=1e-4):
        return "softmax"
    if rows and (out <= 0).all() and torch.allclose(torch.logsumexp(out, -1),
                                                    out.new_zeros(()), atol=1e-4):
        return "log_softmax"
    if (out >= 0).all() and (out == 0).float().mean() > 0.01:
        return "relu"
    if not batch[0].is_floating_point():
        return None
    scaled = [_scaled_output(model, batch, step, factor, out) for factor in (100.0, -100.0)]
    if any(v is None for v in scaled):
        return None
    big = scaled[0]
    if all(float((v - out).abs().max()) < 1e-3 * (1 + float(out.abs().max()))  # type: ignore[operator]
           for v in scaled):
        return None  # the output ignores the input scale (normalisation inside): no verdict
    for kind in ("sigmoid", "tanh"):
        low, high = RANGES[kind]
        if (big >= low).all() and (big <= high).all() and _pinned(big, low, high) > PINNED:
            return kind
    # A ReLU head may be positive on every sample at init; inputs scaled up, either way, drive
    # some of its pre-activations below zero, where it outputs exact zeros.
    if (out >= 0).all() and all((v >= 0).all() for v in scaled) and any(  # type: ignore[operator]
            (v == 0).float().mean() > 0.01 for v in scaled):  # type: ignore[operator]
        return "relu"
    return None


def _scaled_output(model: nn.Module, batch: Batch, step: Step, factor: float,
                   out: torch.Tensor) -> torch.Tensor | None:
    """The model's output on the batch's inputs times ``factor`` (None when it fails or does
    not match ``out``'s shape)."""
    X, y = batch
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = primary(step(model, (X * factor, y)).output)
    except Exception:
        return None
    if not torch.is_tensor(value) or value.shape != out.shape or \
            not torch.isfinite(value).all():
        return None
    return value.detach().cpu()


def _pinned(values: torch.Tensor, low: float, high: float) -> float:
    """Share of ``values`` within ``1e-2`` of a bound: a squashing output driven by inputs
    100x larger sits on its bounds; a linear head over bounded units (an LSTM's) merely
    stays in some range."""
    near = torch.minimum((values - low).abs(), (values - high).abs()) < 1e-2
    return float(near.float().mean())
