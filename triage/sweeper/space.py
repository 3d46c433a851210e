"""A search space: each hyperparameter fixed, chosen or ranged, sampled through an Optuna trial
(``suggest``) or laid out as a grid (``grid``), with the LR centred on an lr-find result.

Spaces are written as YAML and validated by ``triage.sweeper.space_file``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna

from triage.choices import NESTEROV
from triage.errors import TriageError
from triage.sweeper.prior import LRPrior

# lr-find's configuration at its back-off, and a decade and two further below the boundary: the
# documents' three LRs a decade or more apart, judged at the full budget (lr-find validates
# its back-off on short runs; a full training on small data often wants an LR 10-100x lower).
PRIOR_LADDER = (1.0, 10.0, 100.0)
RANGE_ONLY = {"schedule_every", "schedule_after"}  # k > n is kept by narrowing ranges per trial
MAX_GRID = 100_000


class SpaceError(TriageError):
    """A search space is invalid (its file, or a grid too large to run)."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter: a fixed value, or an Optuna distribution plus its options."""

    name: str
    fixed: Any = None
    distribution: optuna.distributions.BaseDistribution | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space; ``suggest`` samples one configuration from a trial."""

    name: str
    params: dict[str, Param]
    description: str = ""
    start: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def relative(self) -> bool:
        """The LR is a back-off below each trial's measured divergence boundary (the space has
        a ``backoff`` range), not sampled on its own scale."""
        return "backoff" in self.params

    def lr_bounds(self) -> tuple[float, float]:
        """The range every LR stays in: ``lr``'s ends when it is a range (with ``backoff``, the
        LR a back-off gives is clipped into it)."""
        lr = self.params.get("lr")
        if lr is None or lr.distribution is None:
            return 0.0, math.inf
        return lr.distribution.low, lr.distribution.high  # type: ignore[attr-defined]

    def suggest(self, trial: optuna.Trial, prior: LRPrior | None = None,
                has_dropout: bool = True, epochs: int | None = None,
                schedule: bool = True) -> dict[str, Any]:
        """Sample every parameter through ``trial``.

        With ``backoff`` the LR is not sampled (``lr`` comes back as None): the caller divides
        the trial's boundary by the back-off. Otherwise the LR is a parameter per updater
        (``lr_adam``, ``lr_sgd_nesterov``, ...) when the updater is searched: good LRs differ
        by orders of magnitude between updaters, and TPE models each one's separately.

        Args:
            trial: the Optuna trial (any sampler: TPE, random, grid).
            prior: an ``lr-find`` result to centre the LR window on (see ``LRPrior``).
            has_dropout: False when the model has no dropout layers: ``dropout`` is then not
                searched (and comes back as None).
            epochs: the task's budget: the schedule's k stays below it (a decay that never
                starts is no schedule), and with no room for k > n >= 1 there is none.
            schedule: sample the step schedule (False: constant LR, None for both).
        """
        values: dict[str, Any] = {"lr": None} if self.relative else {}
        for name, param in self.params.items():
            if name == "dropout" and not has_dropout:
                values[name] = None
            elif name == "lr":
                if not self.relative:
                    values[name] = self._suggest_lr(trial, values.get("optimizer"), prior)
            elif name not in RANGE_ONLY:
                values[name] = self._suggest_one(trial, param)
        if "schedule_every" in self.params:
            values.update(self._schedule(trial, epochs) if schedule else
                          {"schedule_every": None, "schedule_after": None})
        return values

    def lr_param(self, updater: str | None) -> str:
        """The trial parameter that holds the LR for ``updater``."""
        optimizer = self.params.get("optimizer")
        searched = optimizer is not None and optimizer.distribution is not None
        return f"lr_{updater}" if searched and updater else "lr"

    def lr_window(self, updater: str | None, prior: LRPrior | None) -> tuple[float, float] | None:
        """The log range the LR is searched in around ``prior``, or None (the space's range)."""
        lr = self.params.get("lr")
        factor = None if lr is None or self.relative else lr.options.get("around_lr_find")
        if prior is None or factor is None or not prior.applies(updater):
            return None
        return prior.lr / factor, prior.lr * factor

    def updaters(self) -> tuple[str, ...]:
        """The updaters trials can run: the searched choices, the fixed one, or the default
        (Nesterov SGD) when the space leaves the optimizer out."""
        optimizer = self.params.get("optimizer")
        if optimizer is None:
            return (NESTEROV,)
        if optimizer.distribution is None:
            return (optimizer.fixed,)
        return tuple(optimizer.distribution.choices)  # type: ignore[attr-defined]

    def start_points(self, prior: LRPrior | None = None) -> list[dict[str, Any]]:
        """The first trials' parameters: the space's ``start`` points (the sampler fills in what
        they leave out). With a prior and a ``backoff`` range, lr-find's own configuration
        comes first (``ladder``). With a prior and an LR window, the point of its updater runs
        at its LR; when no point names that updater, a point for it comes first."""
        points = [self._start_params(start, prior) for start in self.start]
        if self.relative:
            return self.ladder(prior) + points
        optimizer = self.params.get("optimizer")
        searched = optimizer is not None and optimizer.distribution is not None
        named = {p.get("optimizer") for p in self.start}
        if prior is not None and searched and prior.updater not in named and \
                prior.updater in optimizer.distribution.choices:  # type: ignore[union-attr]
            points.insert(0, {"optimizer": prior.updater, self.lr_param(prior.updater): prior.lr})
        elif prior is not None and not points and self.lr_window(None, prior) is not None:
            points.append({self.lr_param(None): prior.lr})
        return points

    def ladder(self, prior: LRPrior | None) -> list[dict[str, Any]]:
        """lr-find's configuration (updater, batch size, init) at its back-off and 10x and 100x
        further below the boundary (``PRIOR_LADDER``), as trial parameters; empty without a
        prior whose boundary is known, or a ``backoff`` range."""
        if not self.relative or prior is None or prior.backoff is None:
            return []
        rungs = [self._prior_point(prior, f) for f in PRIOR_LADDER]
        return [p for i, p in enumerate(rungs) if p not in rungs[:i]]

    def at_backoff(self, points: list[dict[str, Any]], backoff: float) -> list[dict[str, Any]]:
        """``points`` with their back-off set to ``backoff`` (inside the range)."""
        low, high = span(self.params["backoff"])
        return [{**p, "backoff": min(max(backoff, low), high)} for p in points]

    def prior_values(self, prior: LRPrior | None = None) -> dict[str, Any]:
        """Where a search looks first, as trial parameters: the first start point (lr-find's
        configuration when there is a prior), with the switches of ``or_zero`` and
        ``or_none`` settings off (no L2, no clipping: the documents' defaults)."""
        points = self.start_points(prior)
        values = dict(points[0]) if points else {}
        for name, param in self.params.items():
            if param.options.get("or_zero") or param.options.get("or_none"):
                values.setdefault(f"{name}_on", False)
        return values

    def _start_params(self, start: dict[str, Any], prior: LRPrior | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        updater = start.get("optimizer", getattr(self.params.get("optimizer"), "fixed", None))
        for name, value in start.items():
            opts = self.params[name].options
            if name == "lr":
                params[self.lr_param(updater)] = value
            elif opts.get("or_zero") or opts.get("or_none"):
                params[f"{name}_on"] = value not in (0, None)
                if value not in (0, None):
                    params[name] = value
            else:
                params[name] = value
        if prior is not None and self.lr_window(updater, prior) is not None:
            params[self.lr_param(updater)] = prior.lr
        return params

    def _prior_point(self, prior: LRPrior, factor: float = 1.0) -> dict[str, Any]:
        """lr-find's configuration as trial parameters (those the space searches and holds)."""
        low, high = span(self.params["backoff"])
        values = {"optimizer": prior.updater, "batch_size": prior.batch_size,
                  "init": prior.init,
                  "backoff": min(max((prior.backoff or low) * factor, low), high)}
        return {name: value for name, value in values.items()
                if name in self.params and contains(self.params[name], value)}

    def grid(self, prior: LRPrior | None = None, has_dropout: bool = True,
             levels: int = 3, epochs: int | None = None,
             schedule: bool = True) -> list[dict[str, Any]]:
        """Every combination of the choices and ``levels`` points per range (ends included,
        log-spaced for log ranges), as trial parameters ready for ``Study.enqueue_trial``
        (the step schedule's too, unless ``schedule`` is False).

        Raises:
            SpaceError: when the grid would exceed ``MAX_GRID`` points.
        """
        axes = [self._updater_axis(prior, levels)]
        for name, param in self.params.items():
            if name in RANGE_ONLY or name in ("optimizer", "lr") or (
                    name == "dropout" and not has_dropout):
                continue
            axes.append(_axis(param, levels))
        if "schedule_every" in self.params and schedule:
            axes.append(self._schedule_axis(levels, epochs))
        size = math.prod(len(axis) for axis in axes)
        if size > MAX_GRID:
            raise SpaceError(f"space {self.name!r}: its grid has {size} points (more than "
                             f"{MAX_GRID}); fix some hyperparameters or use --sampler tpe")
        points = [{}]
        for axis in axes:
            points = [{**point, **option} for point in points for option in axis]
        return points

    def _updater_axis(self, prior: LRPrior | None, levels: int) -> list[dict[str, Any]]:
        """Updaters times LRs (per-updater LR parameters, windows where the prior applies);
        the updaters alone when the LR is a back-off (its own axis)."""
        optimizer, lr = self.params.get("optimizer"), self.params.get("lr")
        updaters: list[dict[str, Any] | None] = (
            [None] if optimizer is None else list(_axis(optimizer, levels)))
        if self.relative or lr is None:
            return [dict(choice or {}) for choice in updaters]
        options = []
        for choice in updaters:
            updater = None if optimizer is None else choice.get(  # type: ignore[union-attr]
                "optimizer", optimizer.fixed)
            window = self.lr_window(updater, prior)
            if lr.distribution is None:
                values: list[Any] = [None]
            elif window is not None:
                values = [window[0], prior.lr, window[1]]  # type: ignore[union-attr]
            else:
                values = [o["lr"] for o in _axis(Param("lr", distribution=self.lr_range(
                    updater)), levels)]
            for value in values:
                option = dict(choice or {})
                if value is not None:
                    option[self.lr_param(updater)] = value
                options.append(option)
        return options

    def schedule_bounds(self, epochs: int | None = None) -> tuple[int, int, int, int] | None:
        """(n_low, n_high, k_low, k_high) with k below the budget and n below k, or None when
        that leaves no room for k > n >= 1."""
        (n_low, n_high), (k_low, k_high) = (span(self.params[name])
                                            for name in ("schedule_every", "schedule_after"))
        if epochs is not None:
            k_high = min(k_high, epochs - 1)
        n_high = min(n_high, k_high - 1)
        if n_low > n_high or max(k_low, n_low + 1) > k_high:
            return None
        return n_low, n_high, k_low, k_high

    def _schedule_axis(self, levels: int, epochs: int | None) -> list[dict[str, int]]:
        bounds = self.schedule_bounds(epochs)
        if bounds is None:
            return [{}]
        n_low, n_high, k_low, k_high = bounds
        options = []
        for n in _levels(n_low, n_high, False, True, levels):
            low = max(k_low, n + 1)
            for k in _levels(low, k_high, False, True, levels):
                option = {} if n_low == n_high else {"schedule_every": n}
                options.append(option if low == k_high else {**option, "schedule_after": k})
        return options

    def _suggest_lr(self, trial: optuna.Trial, updater: str | None,
                    prior: LRPrior | None) -> float:
        param = self.params["lr"]
        if param.distribution is None:
            return param.fixed
        window = self.lr_window(updater, prior)
        if window is not None:
            return trial.suggest_float(self.lr_param(updater), *window, log=True)
        return _sample(trial, self.lr_param(updater), self.lr_range(updater))

    def lr_range(self, updater: str | None) -> optuna.distributions.BaseDistribution:
        """The LR distribution for ``updater`` without a prior (``by_updater`` or the shared)."""
        param = self.params["lr"]
        return param.options.get("by_updater", {}).get(updater, param.distribution)

    def _suggest_one(self, trial: optuna.Trial, param: Param) -> Any:
        dist, opts = param.distribution, param.options
        if dist is None:
            return param.fixed
        if opts.get("or_zero") and not trial.suggest_categorical(f"{param.name}_on", [False, True]):
            return 0.0
        if opts.get("or_none") and not trial.suggest_categorical(f"{param.name}_on", [False, True]):
            return None
        return _sample(trial, param.name, dist)

    def _schedule(self, trial: optuna.Trial, epochs: int | None) -> dict[str, int | None]:
        """n, then k in the part of its range above n (ranges narrowed per trial)."""
        bounds = self.schedule_bounds(epochs)
        if bounds is None:
            return {"schedule_every": None, "schedule_after": None}
        n_low, n_high, k_low, k_high = bounds
        n = n_low if n_low == n_high else trial.suggest_int("schedule_every", n_low, n_high)
        k_low = max(k_low, n + 1)
        k = k_low if k_low == k_high else trial.suggest_int("schedule_after", k_low, k_high)
        return {"schedule_every": n, "schedule_after": k}


def _levels(low: float, high: float, log: bool, integer: bool, count: int) -> list[Any]:
    if low == high:
        return [low]
    if log:
        values = [low * (high / low) ** (i / (count - 1)) for i in range(count)]
    else:
        values = [low + (high - low) * i / (count - 1) for i in range(count)]
    if integer:
        return sorted({round(v) for v in values})
    return [float(f"{v:.6g}") for v in values]


def _axis(param: Param, levels: int) -> list[dict[str, Any]]:
    """The grid options of one hyperparameter, as trial-parameter dicts."""
    dist, opts, name = param.distribution, param.options, param.name
    if dist is None:
        return [{}]
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return [{name: choice} for choice in dist.choices]
    integer = isinstance(dist, optuna.distributions.IntDistribution)
    values = _levels(dist.low, dist.high, dist.log, integer, levels)
    if dist.step is not None and not integer:
        values = sorted({min(dist.high, dist.low + round((v - dist.low) / dist.step) * dist.step)
                         for v in values})
    options = [{name: value} for value in values]
    if opts.get("or_zero") or opts.get("or_none"):
        options = [{f"{name}_on": False}] + [{f"{name}_on": True, **o} for o in options]
    return options


def _sample(trial: optuna.Trial, name: str, dist: Any) -> Any:
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)


def contains(param: Param, value: Any) -> bool:
    """Whether a searched parameter can take ``value``."""
    dist = param.distribution
    if dist is None:
        return False
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return value in dist.choices
    return dist.low <= value <= dist.high  # type: ignore[attr-defined]


def span(param: Param) -> tuple[int, int]:
    if param.distribution is None:
        return param.fixed, param.fixed
    dist = param.distribution
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return min(dist.choices), max(dist.choices)
    return dist.low, dist.high
