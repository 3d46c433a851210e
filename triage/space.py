"""Search spaces as data: YAML files validated into Optuna distributions at load time.

A space names each hyperparameter once, as a fixed value, a list of ``choices``, or a range::

    version: 1
    params:
      optimizer: {choices: [sgd_nesterov, rmsprop, adagrad, adam]}
      lr: {low: 1.0e-5, high: 1.0, log: true, around_lr_find: 10}
      batch_size: {choices: [16, 32, 64, 128]}
      weight_decay: {low: 1.0e-6, high: 1.0e-3, log: true, or_zero: true}
      schedule_every: {low: 1, high: 4}     # n: divide the LR every n epochs ...
      schedule_after: {low: 2, high: 10}    # ... after k epochs; sampled so that k > n

Errors name the file, the key and the value.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml

from triage.choices import INITS
from triage.errors import TriageError, first_line

UPDATERS = ("sgd", "sgd_nesterov", "adam", "adamw", "rmsprop", "adagrad")
BUILTIN = Path(__file__).resolve().parent.parent / "search_spaces"
_INT = {"batch_size", "schedule_every", "schedule_after"}
_CHOICES_ONLY = {"optimizer": UPDATERS, "init": INITS}
_RANGE_ONLY = {"schedule_every", "schedule_after"}  # k > n is kept by narrowing ranges per trial
_EXTRAS = {"lr": {"around_lr_find", "by_updater"}, "weight_decay": {"or_zero"},
           "grad_clip_norm": {"or_none"}}
MAX_GRID = 100_000
PARAMS = ("optimizer", "lr", "momentum", "batch_size", "init", "weight_decay", "dropout",
          "grad_clip_norm", "schedule_every", "schedule_after")


class SpaceError(TriageError):
    """A search-space file is invalid."""


@dataclass(frozen=True)
class LRPrior:
    """An ``lr-find`` result: its learning rate and the updater it was measured with.

    A space whose ``lr`` has ``around_lr_find: f`` searches ``[lr/f, lr*f]`` for that updater
    (and for all, when ``updater`` is None); other updaters, whose good LRs live on other
    scales (Adam's near 1e-3 whatever SGD's is), keep the space's range.
    """

    lr: float
    updater: str | None = None

    @classmethod
    def of(cls, lr: float, optimizer: str, nesterov: bool) -> LRPrior:
        """The prior an lr-find config gives (Nesterov SGD is the updater ``sgd_nesterov``)."""
        return cls(lr, "sgd_nesterov" if optimizer == "sgd" and nesterov else optimizer)

    def applies(self, updater: str | None) -> bool:
        return self.updater is None or updater is None or updater == self.updater


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

    def suggest(self, trial: optuna.Trial, prior: LRPrior | None = None,
                has_dropout: bool = True) -> dict[str, Any]:
        """Sample every parameter through ``trial``.

        The LR is a parameter per updater (``lr_adam``, ``lr_sgd_nesterov``, ...) when the
        updater is searched: good LRs differ by orders of magnitude between updaters, and TPE
        models each one's separately.

        Args:
            trial: the Optuna trial (any sampler: TPE, random, grid).
            prior: an ``lr-find`` result to centre the LR window on (see ``LRPrior``).
            has_dropout: False when the model has no dropout layers: ``dropout`` is then not
                searched (and comes back as None).
        """
        values: dict[str, Any] = {}
        for name, param in self.params.items():
            if name == "dropout" and not has_dropout:
                values[name] = None
            elif name == "lr":
                values[name] = self._suggest_lr(trial, values.get("optimizer"), prior)
            elif name not in _RANGE_ONLY:
                values[name] = self._suggest_one(trial, param)
        if "schedule_every" in self.params:
            values.update(self._schedule(trial))
        return values

    def lr_param(self, updater: str | None) -> str:
        """The trial parameter that holds the LR for ``updater``."""
        optimizer = self.params.get("optimizer")
        searched = optimizer is not None and optimizer.distribution is not None
        return f"lr_{updater}" if searched and updater else "lr"

    def lr_window(self, updater: str | None, prior: LRPrior | None) -> tuple[float, float] | None:
        """The log range the LR is searched in around ``prior``, or None (the space's range)."""
        factor = self.params["lr"].options.get("around_lr_find")
        if prior is None or factor is None or not prior.applies(updater):
            return None
        return prior.lr / factor, prior.lr * factor

    def start_points(self, prior: LRPrior | None = None) -> list[dict[str, Any]]:
        """The first trials' parameters: the space's ``start`` points (the sampler fills in what
        they leave out). With a prior, the point of its updater runs at its LR; when no point
        names that updater, a point for it comes first."""
        points = []
        for start in self.start:
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
            points.append(params)
        optimizer = self.params.get("optimizer")
        searched = optimizer is not None and optimizer.distribution is not None
        named = {p.get("optimizer") for p in self.start}
        if prior is not None and searched and prior.updater not in named and \
                prior.updater in optimizer.distribution.choices:  # type: ignore[union-attr]
            points.insert(0, {"optimizer": prior.updater, self.lr_param(prior.updater): prior.lr})
        elif prior is not None and not points and self.lr_window(None, prior) is not None:
            points.append({self.lr_param(None): prior.lr})
        return points

    def grid(self, prior: LRPrior | None = None, has_dropout: bool = True,
             levels: int = 3) -> list[dict[str, Any]]:
        """Every combination of the choices and ``levels`` points per range (ends included,
        log-spaced for log ranges), as trial parameters ready for ``Study.enqueue_trial``.

        Raises:
            SpaceError: when the grid would exceed ``MAX_GRID`` points.
        """
        axes = [self._updater_axis(prior, levels)]
        for name, param in self.params.items():
            if name in _RANGE_ONLY or name in ("optimizer", "lr") or (
                    name == "dropout" and not has_dropout):
                continue
            axes.append(_axis(param, levels))
        if "schedule_every" in self.params:
            axes.append(self._schedule_axis(levels))
        size = math.prod(len(axis) for axis in axes)
        if size > MAX_GRID:
            raise SpaceError(f"space {self.name!r}: its grid has {size} points (more than "
                             f"{MAX_GRID}); fix some hyperparameters or use --sampler tpe")
        points = [{}]
        for axis in axes:
            points = [{**point, **option} for point in points for option in axis]
        return points

    def _updater_axis(self, prior: LRPrior | None, levels: int) -> list[dict[str, Any]]:
        """Updaters times LRs (per-updater LR parameters, windows where the prior applies)."""
        optimizer, lr = self.params.get("optimizer"), self.params["lr"]
        updaters: list[dict[str, Any] | None] = (
            [None] if optimizer is None else list(_axis(optimizer, levels)))
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

    def _schedule_axis(self, levels: int) -> list[dict[str, int]]:
        (n_low, n_high), (k_low, k_high) = (_bounds(self.params[name])
                                            for name in ("schedule_every", "schedule_after"))
        n_high = min(n_high, k_high - 1)
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

    def _schedule(self, trial: optuna.Trial) -> dict[str, int]:
        """n, then k in the part of its range above n (ranges narrowed per trial)."""
        (n_low, n_high), (k_low, k_high) = (_bounds(self.params[name])
                                            for name in ("schedule_every", "schedule_after"))
        n_high = min(n_high, k_high - 1)
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


def load_space(path_or_name: str | os.PathLike[str]) -> SearchSpace:
    """Load and validate a space: a YAML path, or a bundled name (``default``, ``cnn``, ``rnn``).

    Raises:
        SpaceError: naming the file, the key and the offending value.
    """
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        path = BUILTIN / f"{path_or_name}.yaml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in BUILTIN.glob("*.yaml")))
        raise SpaceError(f"search space {str(path_or_name)!r} not found; give a YAML path or "
                         f"one of the bundled spaces ({names})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpaceError(f"{path}: not valid YAML: {first_line(exc)}") from None
    return parse_space(data, str(path))


def parse_space(data: Any, source: str = "space") -> SearchSpace:
    """Validate an already parsed document."""
    if not isinstance(data, dict):
        raise SpaceError(f"{source}: a space must be a mapping with 'version' and 'params'")
    unknown = sorted(set(data) - {"version", "description", "params", "start"})
    if unknown:
        raise SpaceError(f"{source}: unknown key {unknown[0]!r}; use version, description, "
                         "params, start")
    if data.get("version") != 1:
        raise SpaceError(f"{source}: version must be 1, got {data.get('version')!r}")
    raw = data.get("params")
    if not isinstance(raw, dict) or not raw:
        raise SpaceError(f"{source}: params must be a non-empty mapping of hyperparameters")
    params = {}
    for name, spec in raw.items():
        if name not in PARAMS:
            raise SpaceError(f"{source}: params.{name}: unknown hyperparameter; use one of "
                             f"{', '.join(PARAMS)}")
        params[name] = _param(name, spec, f"{source}: params.{name}")
    if "lr" not in params:
        raise SpaceError(f"{source}: params.lr is missing; give a range (low, high, log: true) "
                         "or a fixed value")
    _check_schedule(params, source)
    start = data.get("start") or []
    start = [start] if isinstance(start, dict) else start
    if not isinstance(start, list) or not all(isinstance(p, dict) for p in start):
        raise SpaceError(f"{source}: start must be a mapping of first-trial values, or a list "
                         "of them")
    for i, point in enumerate(start):
        for name, value in point.items():
            where = f"{source}: start.{name}" if len(start) == 1 else f"{source}: start[{i}].{name}"
            _check_start(params, name, value, where, point.get("optimizer"))
    ordered = {name: params[name] for name in PARAMS if name in params}
    return SearchSpace(Path(source).stem, ordered, str(data.get("description", "")), start,
                       raw=data)


def _check_start(params: dict[str, Param], name: str, value: Any, where: str,
                 updater: str | None = None) -> None:
    """A first-trial value must be one the space could sample."""
    param = params.get(name)
    if param is None or param.distribution is None:
        raise SpaceError(f"{where}: {name!r} is not a searched hyperparameter of this space")
    dist = param.distribution
    if name == "lr":
        dist = param.options.get("by_updater", {}).get(updater, dist)
    if (value == 0 and param.options.get("or_zero")) or (value is None
                                                         and param.options.get("or_none")):
        return
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        inside = value in dist.choices
    else:
        inside = (not isinstance(value, bool) and isinstance(value, (int, float))
                  and dist.low <= value <= dist.high)
    if not inside:
        raise SpaceError(f"{where}: {value!r} lies outside the space's {name}")


def _param(name: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict):
        _check_value(name, spec, where)
        return Param(name, fixed=spec)
    extras = _EXTRAS.get(name, set())
    keys = set(spec)
    if "choices" in keys and name in _RANGE_ONLY:
        raise SpaceError(f"{where}: give a range (low, high) or a fixed value, not choices")
    if "choices" in keys:
        unknown = sorted(keys - {"choices"})
        if unknown:
            raise SpaceError(f"{where}: {unknown[0]!r} cannot be combined with choices")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"{where}: choices must be a non-empty list, got {choices!r}")
        for value in choices:
            _check_value(name, value, where)
        return Param(name, distribution=optuna.distributions.CategoricalDistribution(choices))
    if name in _CHOICES_ONLY:
        raise SpaceError(f"{where}: give choices (from {', '.join(_CHOICES_ONLY[name])}), "
                         f"not a range")
    unknown = sorted(keys - {"low", "high", "log", "step"} - extras)
    if unknown:
        allowed = ", ".join(["low", "high", "log", "step", *sorted(extras)])
        raise SpaceError(f"{where}: unknown key {unknown[0]!r}; use {allowed}")
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{where}: a range needs low and high, got {spec!r}")
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    for key, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise SpaceError(f"{where}: {key} must be a number, got {value!r}")
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log must be true or false, got {log!r}")
    if not low < high:
        raise SpaceError(f"{where}: low must be < high, got low={low!r}, high={high!r}")
    if log and low <= 0:
        raise SpaceError(f"{where}: a log range must stay above zero, got low={low!r}; use "
                         "or_zero: true to also try 0" if name == "weight_decay" else
                         f"{where}: a log range must stay above zero, got low={low!r}")
    _check_value(name, low, where)
    _check_value(name, high, where)
    options = {k: spec[k] for k in extras if k in spec}
    if "by_updater" in options:
        options["by_updater"] = _by_updater(options["by_updater"], where)
    if "around_lr_find" in options and not (
            isinstance(options["around_lr_find"], (int, float)) and options["around_lr_find"] > 1):
        raise SpaceError(f"{where}: around_lr_find must be a factor > 1, got "
                         f"{options['around_lr_find']!r}")
    for flag in ("or_zero", "or_none"):
        if flag in options and not isinstance(options[flag], bool):
            raise SpaceError(f"{where}: {flag} must be true or false, got {options[flag]!r}")
    try:
        if name in _INT:  # _check_value has made sure both ends are positive integers
            dist = optuna.distributions.IntDistribution(low, high, log=log,
                                                        step=spec.get("step", 1))
        else:
            dist = optuna.distributions.FloatDistribution(float(low), float(high), log=log,
                                                          step=spec.get("step"))
    except ValueError as exc:
        raise SpaceError(f"{where}: {exc}") from None
    return Param(name, distribution=dist, options=options)


def _by_updater(spec: Any, where: str) -> dict[str, optuna.distributions.FloatDistribution]:
    """``by_updater: {adam: {low, high}, ...}``: log LR ranges for updaters whose good LRs do
    not follow the shared range (adaptive updaters live near their own defaults)."""
    if not isinstance(spec, dict) or not spec:
        raise SpaceError(f"{where}.by_updater: give a mapping of updater to {{low, high}}, got "
                         f"{spec!r}")
    ranges = {}
    for updater, bounds in spec.items():
        here = f"{where}.by_updater.{updater}"
        if updater not in UPDATERS:
            raise SpaceError(f"{here}: unknown updater; use {', '.join(UPDATERS)}")
        if not isinstance(bounds, dict) or set(bounds) != {"low", "high"}:
            raise SpaceError(f"{here}: give {{low, high}}, got {bounds!r}")
        low, high = bounds["low"], bounds["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                   for v in (low, high)) or not low < high:
            raise SpaceError(f"{here}: need 0 < low < high, got low={low!r}, high={high!r}")
        ranges[updater] = optuna.distributions.FloatDistribution(low, high, log=True)
    return ranges


def _check_value(name: str, value: Any, where: str) -> None:
    """One value (fixed, a choice, or a range end) must make sense for its hyperparameter."""
    if name in _CHOICES_ONLY:
        if value not in _CHOICES_ONLY[name]:
            raise SpaceError(f"{where}: unknown value {value!r}; use "
                             f"{', '.join(_CHOICES_ONLY[name])}")
        return
    if name == "grad_clip_norm" and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpaceError(f"{where}: {value!r} is not a number")
    if name in _INT and (not isinstance(value, int) or value < 1):
        raise SpaceError(f"{where}: {value!r} must be a positive integer")
    if name == "dropout" and not 0 <= value < 1:
        raise SpaceError(f"{where}: dropout must be in [0, 1), got {value!r}")
    if name in ("lr", "grad_clip_norm") and value <= 0:
        raise SpaceError(f"{where}: {name} must be > 0, got {value!r}")
    if name in ("momentum", "weight_decay") and value < 0:
        raise SpaceError(f"{where}: {name} must be >= 0, got {value!r}")


def _bounds(param: Param) -> tuple[int, int]:
    if param.distribution is None:
        return param.fixed, param.fixed
    dist = param.distribution
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return min(dist.choices), max(dist.choices)
    return dist.low, dist.high


def _check_schedule(params: dict[str, Param], source: str) -> None:
    """The documents' schedule needs both k and n, and room for k > n."""
    present = {"schedule_every", "schedule_after"} & set(params)
    if len(present) == 1:
        missing = ({"schedule_every", "schedule_after"} - present).pop()
        raise SpaceError(f"{source}: params.{present.pop()} needs params.{missing} too (the "
                         "step schedule divides the LR every n epochs after k epochs)")
    if present:
        every_low, _ = _bounds(params["schedule_every"])
        _, after_high = _bounds(params["schedule_after"])
        if after_high <= every_low:
            raise SpaceError(f"{source}: params.schedule_after must allow k > n: its highest "
                             f"value {after_high} is not above schedule_every's lowest "
                             f"{every_low}")
