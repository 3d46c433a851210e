"""Updaters by name or by factory: triage's five, any ``torch.optim`` class, or the Task's own.

- ``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``adagrad``: triage's updaters, with its defaults
  (SGD with Nesterov momentum 0.9, the documents' default; momentum also for RMSProp);
- any ``torch.optim`` class by its name (``Adadelta``, ``LBFGS``, ``NAdam``, ...; case does not
  matter), built with the LR (and weight decay when set) and torch's defaults for the rest;
- ``task``: the Task's own factory, ``Task(optimizer=lambda params, lr: ...)``, for anything
  else (extra arguments, an optimizer from another package).

An optimizer whose ``step`` requires a closure (LBFGS) is stepped with one (see ``needs_closure``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from triage.choices import CUSTOMARY_LR, NESTEROV, OPTIMIZERS, TASK_OPTIMIZER
from triage.errors import SettingsError
from triage.validate import check_positive

__all__ = ["OptimizerConfig", "OptimizerFactory", "canonical", "canonical_updater",
           "customary_lr", "make_optimizer", "needs_closure"]

OptimizerFactory = Callable[[Iterable[nn.Parameter], float], torch.optim.Optimizer]


@functools.cache
def _torch_classes() -> dict[str, type[torch.optim.Optimizer]]:
    """torch.optim's optimizer classes by lower-case name."""
    found = {}
    for name in dir(torch.optim):
        value = getattr(torch.optim, name)
        if (isinstance(value, type) and issubclass(value, torch.optim.Optimizer)
                and value is not torch.optim.Optimizer):
            found[name.lower()] = value
    return found


def canonical(name: object) -> str:
    """The optimizer ``name`` stands for: triage's in lower case (``SGD`` is ``sgd``), a
    torch.optim class by its own spelling (``lbfgs`` is ``LBFGS``), or ``task``.

    Raises:
        SettingsError: naming the value and what may be used instead.
    """
    lower = name.lower() if isinstance(name, str) else None
    if lower in OPTIMIZERS or lower == TASK_OPTIMIZER:
        return lower  # type: ignore[return-value]
    found = _torch_classes().get(lower) if lower else None
    if found is None:
        raise SettingsError(
            f"unknown optimizer {name!r}; use {', '.join(OPTIMIZERS)}, a torch.optim class by "
            f"name (Adadelta, LBFGS, NAdam, ...) or {TASK_OPTIMIZER} (the Task's own factory)")
    return found.__name__


def canonical_updater(name: object) -> str:
    """An updater name (an optimizer, or ``sgd_nesterov``) in its canonical spelling."""
    return NESTEROV if name == NESTEROV else canonical(name)


def customary_lr(name: str, factory: OptimizerFactory | None = None) -> float | None:
    """The LR an optimizer is customarily started at: triage's table for its five, a torch
    class's default ``lr``, the factory's ``lr`` default for ``task``; None when there is none."""
    name = canonical(name)
    if name in CUSTOMARY_LR:
        return CUSTOMARY_LR[name]
    target = factory if name == TASK_OPTIMIZER else _torch_classes()[name.lower()]
    if target is None:
        return None
    try:
        default = inspect.signature(target).parameters["lr"].default
    except (KeyError, TypeError, ValueError):
        return None
    ok = isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0
    return float(default) if ok else None


@dataclass
class OptimizerConfig:
    """An updater and its hyperparameters: the one place an optimizer is built from settings.

    Attributes:
        name: see the module's docstring.
        lr: learning rate.
        momentum: SGD/RMSProp momentum (other optimizers ignore it).
        nesterov: Nesterov momentum for SGD.
        weight_decay: L2 penalty.
    """

    name: str
    lr: float
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0

    def make(self, params: Iterable[nn.Parameter], factory: OptimizerFactory | None = None
             ) -> torch.optim.Optimizer:
        """The ``torch.optim.Optimizer`` over ``params`` (``factory``: the Task's, for
        ``task``)."""
        return make_optimizer(self.name, params, self.lr, momentum=self.momentum,
                              nesterov=self.nesterov, weight_decay=self.weight_decay,
                              factory=factory)


def make_optimizer(
    name: str,
    params: Iterable[nn.Parameter],
    lr: float,
    *,
    momentum: float = 0.9,
    nesterov: bool = True,
    weight_decay: float = 0.0,
    factory: OptimizerFactory | None = None,
) -> torch.optim.Optimizer:
    """Create an optimizer by name (see the module's docstring).

    ``momentum``/``nesterov`` apply to triage's ``sgd`` (momentum to ``rmsprop``); other
    optimizers keep their own defaults. ``factory`` is the Task's, used for ``task``.
    """
    name = canonical(name)
    check_positive("lr", lr)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    if name == "sgd":
        if nesterov and momentum <= 0:
            raise SettingsError("Nesterov SGD needs momentum > 0; set --momentum or --no-nesterov")
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov,
                               weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == TASK_OPTIMIZER:
        return _from_factory(factory, params, lr, weight_decay)
    cls = _torch_classes()[name.lower()]
    kwargs = {"lr": lr}
    if weight_decay:
        if "weight_decay" not in inspect.signature(cls).parameters:
            raise SettingsError(f"{cls.__name__} takes no weight decay, got weight_decay="
                                f"{weight_decay!r}; leave it at 0 with this optimizer")
        kwargs["weight_decay"] = weight_decay
    return cls(params, **kwargs)


def _from_factory(factory: OptimizerFactory | None, params: Iterable[nn.Parameter], lr: float,
                  weight_decay: float) -> torch.optim.Optimizer:
    if factory is None:
        raise SettingsError(f"optimizer {TASK_OPTIMIZER!r} is the Task's own, and this task has "
                            "none; give Task(optimizer=lambda params, lr: ...) or name one")
    optimizer = factory(params, lr)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise SettingsError(f"Task.optimizer returned {type(optimizer).__name__}, not a "
                            "torch.optim.Optimizer; return one, e.g. "
                            "torch.optim.Adadelta(params, lr=lr)")
    if weight_decay:
        for group in optimizer.param_groups:
            if "weight_decay" not in group:
                raise SettingsError(f"the Task's {type(optimizer).__name__} takes no weight "
                                    f"decay, got weight_decay={weight_decay!r}; leave it at 0")
            group["weight_decay"] = weight_decay
    return optimizer


def needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` requires a closure that re-evaluates the loss (LBFGS)."""
    try:
        closure = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):
        return False
    return closure is not None and closure.default is inspect.Parameter.empty
