"""Search spaces as YAML files, validated into Optuna distributions at load time.

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
from importlib import resources
from pathlib import Path
from typing import Any

import optuna
import yaml

from triage.choices import INITS, UPDATERS
from triage.errors import SettingsError, first_line
from triage.optimizers import canonical_updater
from triage.sweeper.space import RANGE_ONLY, Param, SearchSpace, SpaceError, span

# The bundled spaces, one YAML file each: the top-level search_spaces/ folder of the source,
# installed (wheel or editable) as this package (see pyproject.toml's package-dir).
BUILTIN = "triage.search_spaces"
PARAMS = ("optimizer", "lr", "backoff", "momentum", "batch_size", "init", "weight_decay",
          "dropout", "grad_clip_norm", "schedule_every", "schedule_after")
_INT = {"batch_size", "schedule_every", "schedule_after"}
_CHOICES_ONLY = {"optimizer": UPDATERS, "init": INITS}
_EXTRAS = {"lr": {"around_lr_find", "by_updater"}, "weight_decay": {"or_zero"},
           "grad_clip_norm": {"or_none"}}


def load_space(path_or_name: str | os.PathLike[str]) -> SearchSpace:
    """Load and validate a space: a YAML path, or a bundled name (``default``, ``cnn``, ``rnn``).

    Raises:
        SpaceError: naming the file, the key and the offending value.
    """
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        bundled = _builtin() / f"{path_or_name}.yaml"
        if bundled.is_file():
            return _parse_file(bundled.read_text(encoding="utf-8"), f"{path_or_name}.yaml")
    if not path.is_file():
        raise SpaceError(f"search space {str(path_or_name)!r} not found; give a YAML path or "
                         f"one of the bundled spaces ({', '.join(bundled_spaces())}) in "
                         f"{_builtin()}")
    return _parse_file(path.read_text(encoding="utf-8"), str(path))


def bundled_spaces() -> list[str]:
    """The names of the spaces that ship with triage."""
    return sorted(entry.name.removesuffix(".yaml") for entry in _builtin().iterdir()
                  if entry.name.endswith(".yaml"))


def _builtin() -> resources.abc.Traversable:
    """The bundled spaces' folder; an install from before they moved to search_spaces/ lacks it."""
    try:
        return resources.files(BUILTIN)
    except ModuleNotFoundError:
        raise SpaceError(f"the bundled search spaces ({BUILTIN}, from the source's search_spaces/ "
                         "folder) are not installed; reinstall triage (pip install -e . in a "
                         "checkout)") from None


def _parse_file(text: str, source: str) -> SearchSpace:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpaceError(f"{source}: not valid YAML: {first_line(exc)}") from None
    return parse_space(data, source)


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
    _check_lr(params, source)
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
    if name == "lr" and "backoff" in params:
        raise SpaceError(f"{where}: give backoff, not lr, in a space whose LR is a back-off")
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
    if "choices" in keys and name in RANGE_ONLY:
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
        raise SpaceError(f"{where}: give choices, not a range")
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
        _check_updater(updater, here)
        if not isinstance(bounds, dict) or set(bounds) != {"low", "high"}:
            raise SpaceError(f"{here}: give {{low, high}}, got {bounds!r}")
        low, high = bounds["low"], bounds["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                   for v in (low, high)) or not low < high:
            raise SpaceError(f"{here}: need 0 < low < high, got low={low!r}, high={high!r}")
        ranges[updater] = optuna.distributions.FloatDistribution(low, high, log=True)
    return ranges


def _check_updater(value: Any, where: str) -> None:
    """An updater is written as triage knows it: ``sgd_nesterov``, ``adam``, ``LBFGS``, ..."""
    try:
        known = canonical_updater(value)
    except SettingsError:
        raise SpaceError(f"{where}: unknown updater {value!r}; use {', '.join(UPDATERS)}, a "
                         "torch.optim class by name (LBFGS, NAdam, ...) or task (the Task's "
                         "own)") from None
    if known != value:
        raise SpaceError(f"{where}: write updater {value!r} as {known!r}")


def _check_value(name: str, value: Any, where: str) -> None:
    """One value (fixed, a choice, or a range end) must make sense for its hyperparameter."""
    if name == "optimizer":
        _check_updater(value, where)
        return
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
    if name == "backoff" and value < 1:
        raise SpaceError(f"{where}: a back-off below the divergence boundary must be >= 1 (no "
                         f"trial above the boundary), got {value!r}")
    if name in ("momentum", "weight_decay") and value < 0:
        raise SpaceError(f"{where}: {name} must be >= 0, got {value!r}")


def _check_lr(params: dict[str, Param], source: str) -> None:
    """The LR is sampled (``lr``), or a back-off below the measured boundary (``backoff``, with
    ``lr``'s range, if given, bounding it)."""
    lr = params.get("lr")
    if "backoff" not in params:
        if lr is None:
            raise SpaceError(f"{source}: params.lr is missing; give a range (low, high, log: "
                             "true), a fixed value, or params.backoff (the LR as a back-off "
                             "below the measured divergence boundary)")
        return
    if lr is not None and lr.distribution is None:
        raise SpaceError(f"{source}: params.lr is fixed at {lr.fixed!r}, which leaves backoff "
                         "nothing to set; remove one of them")
    if lr is not None and lr.options:
        raise SpaceError(f"{source}: params.lr.{sorted(lr.options)[0]} does not apply when "
                         "params.backoff sets the LR; keep lr as a plain range (its bounds)")


def _check_schedule(params: dict[str, Param], source: str) -> None:
    """The documents' schedule needs both k and n, and room for k > n."""
    present = {"schedule_every", "schedule_after"} & set(params)
    if len(present) == 1:
        missing = ({"schedule_every", "schedule_after"} - present).pop()
        raise SpaceError(f"{source}: params.{present.pop()} needs params.{missing} too (the "
                         "step schedule divides the LR every n epochs after k epochs)")
    if present:
        every_low, _ = span(params["schedule_every"])
        _, after_high = span(params["schedule_after"])
        if after_high <= every_low:
            raise SpaceError(f"{source}: params.schedule_after must allow k > n: its highest "
                             f"value {after_high} is not above schedule_every's lowest "
                             f"{every_low}")
