"""The recommendation: a plain YAML config, and helpers to apply it in a training script.

    cfg = triage.load_config("triage.yaml")
    model = cfg.apply_init(MyNet())
    optimizer = cfg.make_optimizer(model.parameters())
    scheduler = cfg.make_scheduler(optimizer, steps_per_epoch)  # None, or see .per_step
    cfg.apply_dropout(model)                     # sets dropout layers' rate (if the sweep tuned it)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from triage import atomic
from triage.builders import StepSchedule, apply_dropout, apply_init
from triage.errors import ConfigError, TriageError, first_line
from triage.optimizers import OptimizerConfig, OptimizerFactory
from triage.training import Training

if TYPE_CHECKING:
    from triage.lr_finder.evidence import LRFindEvidence
    from triage.probe import ProbeSettings

__all__ = ["Config", "OptimizerConfig", "load_config"]

VERSION = 1


@dataclass
class Config:
    """A recommended training configuration (schema ``version: 1``).

    Attributes:
        optimizer: updater name and its hyperparameters.
        batch_size: samples per step.
        init: weight initialisation (``default`` keeps the framework's).
        schedule: step decay, or None for a constant LR.
        grad_clip_norm: global gradient-norm clip, or None.
        dropout: rate for the model's dropout layers, or None to keep the model's own.
        precision: ``32``, ``bf16`` or ``16-mixed``: what it was measured in (autocast, and
            loss scaling for 16-mixed); train in the same.
        world_size: data-parallel workers it was measured for, each with ``batch_size``
            samples a step (the YAML also shows ``effective_batch_size``, their product).
        warmup_epochs: Goyal's gradual warmup over this many epochs (several workers only:
            the LR rises step by step from lr / world_size to lr), or None.
        task: the task it was measured on.
        data: how a table's data was prepared (``triage.tables``), to be applied again.
        lr_find: the evidence from ``lr-find`` (probes, boundary, rule), if any.
        sweep: the evidence from ``sweep`` (study, best trial, edge warnings), if any.
        doctor: what ``doctor`` changed and the findings behind it, if any.
    """

    optimizer: OptimizerConfig
    batch_size: int = 32
    init: str = "default"
    schedule: StepSchedule | None = None
    grad_clip_norm: float | None = None
    dropout: float | None = None
    precision: str = "32"
    world_size: int = 1
    warmup_epochs: int | None = None
    task: str | None = None
    data: dict[str, Any] | None = field(default=None, repr=False)
    lr_find: LRFindEvidence | None = field(default=None, repr=False)
    sweep: dict[str, Any] | None = field(default=None, repr=False)
    doctor: dict[str, Any] | None = field(default=None, repr=False)
    version: int = VERSION

    @classmethod
    def from_settings(cls, settings: ProbeSettings, **fields: Any) -> Config:
        """The config that trains as ``settings`` do: updater, LR, batch size, init, schedule,
        clipping and dropout; ``fields`` sets the rest (``task``, an evidence section).
        ``fields`` may also override a setting (``batch_size=...``)."""
        values = {"optimizer": settings.optimizer_at(settings.lr), **_recorded(settings)}
        return cls(**{**values, **fields})

    def training(self) -> Training:
        """The training settings this config records (all but the LR)."""
        o = self.optimizer
        return Training(optimizer=o.name, momentum=o.momentum, nesterov=o.nesterov,
                        weight_decay=o.weight_decay, **_recorded(self))  # type: ignore[arg-type]

    def probe_settings(self, *, seed: int = 0, device: str = "auto",
                       epochs: int | None = None) -> ProbeSettings:
        """The settings that train exactly as this config says (``from_settings`` inverted)."""
        return self.training().at(self.optimizer.lr, seed=seed, device=device, epochs=epochs)

    def make_optimizer(self, params: Any, factory: OptimizerFactory | None = None) -> Any:
        """The recommended ``torch.optim.Optimizer`` over ``params``.

        Args:
            params: the model's parameters.
            factory: your Task's optimizer factory, for a config whose optimizer is ``task``
                (measured with the Task's own updater).
        """
        return self.optimizer.make(params, factory)

    @property
    def per_step(self) -> bool:
        """Whether ``make_scheduler``'s scheduler steps after every optimizer step (a warmup)
        rather than after every epoch."""
        return self.warmup_epochs is not None

    def make_scheduler(self, optimizer: Any, steps_per_epoch: int | None = None) -> Any:
        """The LR scheduler for the recommended schedule, or None for a constant LR: call its
        ``.step()`` once per epoch, or, with a warmup (``per_step``), after every optimizer
        step, which needs ``steps_per_epoch``.

        Raises:
            ConfigError: a warmup without ``steps_per_epoch``.
        """
        if self.per_step and (steps_per_epoch is None or steps_per_epoch < 1):
            raise ConfigError(f"this config warms the LR up over {self.warmup_epochs} epoch(s), "
                              "step by step: pass steps_per_epoch (optimizer steps an epoch) "
                              "and call .step() after every optimizer step")
        return self.training().scheduler(optimizer, steps_per_epoch or 1)[0]

    def apply_init(self, model: Any) -> Any:
        """Re-initialise ``model``'s weights as recommended (in place); returns the model."""
        return apply_init(model, self.init)

    def apply_dropout(self, model: Any) -> Any:
        """Set the rate of ``model``'s dropout layers as recommended (in place; None keeps
        them); returns the model."""
        return apply_dropout(model, self.dropout)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "task": self.task,
            "optimizer": asdict(self.optimizer),
            "batch_size": self.batch_size,
            "init": self.init,
            "schedule": None if self.schedule is None else {"type": "step",
                                                             **asdict(self.schedule)},
            "grad_clip_norm": self.grad_clip_norm,
            "dropout": self.dropout,
            "precision": self.precision,
            "world_size": self.world_size,
            "effective_batch_size": self.batch_size * self.world_size,
            "warmup_epochs": self.warmup_epochs,
        }
        if self.data is not None:
            data["data"] = self.data
        if self.lr_find is not None:
            data["lr_find"] = self.lr_find.to_dict()
        if self.sweep is not None:
            data["sweep"] = self.sweep
        if self.doctor is not None:
            data["doctor"] = self.doctor
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> Config:
        """Validate a parsed document; errors name the key and the value."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must be a mapping, got {type(data).__name__}")
        if data.get("version") != VERSION:
            raise ConfigError(f"{source}: unsupported version {data.get('version')!r}; "
                              f"this triage reads version {VERSION}")
        known = {"version", "task", "optimizer", "batch_size", "init", "schedule",
                 "grad_clip_norm", "dropout", "precision", "world_size", "effective_batch_size",
                 "warmup_epochs", "data", "lr_find", "sweep", "doctor"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r}; known keys: "
                              f"{', '.join(sorted(known))}")
        try:
            opt = data.get("optimizer")
            if not isinstance(opt, dict) or "name" not in opt or "lr" not in opt:
                raise ConfigError(f"{source}: optimizer must be a mapping with name and lr")
            optimizer = OptimizerConfig(**opt)
            if not (isinstance(optimizer.lr, (int, float)) and optimizer.lr > 0):
                raise ConfigError(f"{source}: optimizer.lr must be > 0, got {optimizer.lr!r}")
            schedule = data.get("schedule")
            if schedule is not None:
                if not isinstance(schedule, dict) or schedule.get("type") != "step":
                    raise ConfigError(f"{source}: schedule must be null or have type: step")
                schedule = StepSchedule(**{k: v for k, v in schedule.items() if k != "type"})
            training = Training(  # every training setting is checked there, as for a probe
                optimizer=optimizer.name, momentum=optimizer.momentum,
                nesterov=optimizer.nesterov, weight_decay=optimizer.weight_decay,
                batch_size=data.get("batch_size", 32), init=data.get("init", "default"),
                schedule=schedule, dropout=data.get("dropout"),
                grad_clip_norm=data.get("grad_clip_norm"),
                precision=str(data.get("precision", "32")),
                world_size=data.get("world_size", 1),
                warmup_epochs=data.get("warmup_epochs"))
            effective = data.get("effective_batch_size", training.effective_batch_size)
            if effective != training.effective_batch_size:
                raise ConfigError(
                    f"{source}: effective_batch_size {effective!r} is not batch_size x "
                    f"world_size = {training.effective_batch_size}; fix one of them")
            optimizer.name = training.optimizer
            from triage.lr_finder.evidence import LRFindEvidence  # (lr_finder imports Config)

            lr_find = data.get("lr_find")
            config = cls(optimizer=optimizer, **_recorded(training), task=data.get("task"),
                         data=data.get("data"),
                         lr_find=(None if lr_find is None
                                  else LRFindEvidence.from_dict(lr_find, source)),
                         sweep=data.get("sweep"), doctor=data.get("doctor"))
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except ConfigError:
            raise
        except TriageError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return config

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None,
                              width=100)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the YAML document atomically."""
        atomic.write_text(path, self.to_yaml())


def _recorded(training: Training | Config) -> dict[str, Any]:
    """The fields a config records besides the optimizer."""
    return {name: getattr(training, name) for name in
            ("batch_size", "init", "schedule", "grad_clip_norm", "dropout", "precision",
             "world_size", "warmup_epochs")}


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config written by triage (or by hand)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; run 'triage lr-find' "
                          "first or check the path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: "
                          f"{first_line(exc)}") from None
    return Config.from_dict(data, source=str(path))
