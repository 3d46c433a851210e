"""Checks and the evidence they read.

A check is a small class with one required method, ``check(evidence) -> list[Finding]``. Checks
run in stages (data, then the model at init, then training probes); the evidence of a stage is
filled in before its checks run, and a later stage never runs when an earlier one found that
the program cannot run at all.

A check is registered by being defined: its ``codes`` (family, source, when it fires, what it
explains, its place among causes) join ``findings.CODES``, and ``all_checks()`` runs it. Every
list of checks or codes (``CODES``, ``causes.EXPLAINS``/``ORDER``, the codes table) is derived
from these declarations. Checks run stage by stage, and within a stage in the order of
``CHECK_MODULES`` (the ``*_checks.py`` files, named by the codes they emit), then in the order
they are defined in their file. Findings the driver makes itself (``run.py``: a clamped batch,
stages skipped) declare their codes the same way, on a ``Note``.
"""

from __future__ import annotations

import abc
import importlib
import inspect
import itertools
from dataclasses import dataclass, field
from typing import ClassVar

from triage.doctor.budget import Budget
from triage.doctor.findings import CODES, FAMILIES, Code, Finding
from triage.doctor.forward import ForwardInfo
from triage.doctor.inputs import Splits
from triage.doctor.probes import Run
from triage.losses import LossKind
from triage.probe import ProbeSettings
from triage.task import PreparedTask, Task

STAGES = ("data", "model", "train")  # in the order they run
# The files of checks, in the order their checks run within a stage (all are imported by
# ``triage.doctor``; a check defined elsewhere, as in a test, runs after these).
CHECK_MODULES = ("data_checks", "model_checks", "model_wiring_checks", "train_checks",
                 "train_update_checks")


@dataclass
class Evidence:
    """Everything doctor measured, stage by stage.

    Attributes:
        task: the user's task.
        settings: the user's current settings (LR, updater, batch size, init, seed, device).
        splits: the data as given, and finite copies for the probes.
        targets: ``index``, ``onehot``, ``binary`` or ``continuous``.
        loss: the known loss the task uses (see ``triage.losses.identify``), or None.
        forward: the forward pass at init (model stage).
        prepared: the finite data, loss and accuracy the probes train on.
        runs: probes by role: ``configured``, ``tiny``, ``out_of_memory`` (the configured
            run that did not fit, when the batch had to be shrunk), and ``longer`` (the
            configured settings trained on for up to ``LONGER`` of the user's steps, when the
            configured probe's loss was flat).
        shrink: the batch size halved until it fits (only after running out of memory).
        lowered: the LR divided by 3 until stable (only after early divergence).
        overfit: the overfit-10 runs (Adam at two LRs, then batch size 1).
        faster: the configured probe's first steps again at 3x and 10x the LR, then 100x when
            10x ended lower than 3x (only when its loss is still falling at the end, or the
            user's whole training is shorter than the probe).
        budget: the time budget the probes were sized by (what was shortened).
    """

    task: Task
    settings: ProbeSettings
    splits: Splits | None  # None: the items are not (x, y) tensors (only training checks run)
    targets: str
    loss: LossKind | None = None
    forward: ForwardInfo | None = None
    prepared: PreparedTask | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    lowered: list[Run] = field(default_factory=list)
    shrink: list[Run] = field(default_factory=list)
    overfit: list[Run] = field(default_factory=list)
    faster: list[Run] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)

    @property
    def regression(self) -> bool:
        return self.targets == "continuous" and not (self.loss and self.loss.classification)

    def trained(self) -> Run | None:
        """The configured-LR probe when it ran without divergence or error."""
        run = self.runs.get("configured")
        return run if run is not None and run.result is not None and run.result.ok else None


_DECLARED: dict[type, int] = {}  # declaring class -> definition number
_NUMBER = itertools.count()


class Declares:
    """A class that declares finding codes (``codes``); registered when it is defined."""

    codes: ClassVar[tuple[Code, ...]] = ()

    def __init_subclass__(cls, register: bool = True, **kwargs: object) -> None:
        """``register=False``: a class only handed to ``doctor(checks=...)`` (as in a test)."""
        super().__init_subclass__(**kwargs)
        if not register:
            return
        own = cls.__dict__.get("codes", ())
        for code in own:
            prefix = code.code.partition(".")[0]
            if prefix not in STAGES:
                raise TypeError(f"{cls.__name__}: code {code.code!r} must start with one of "
                                f"{', '.join(STAGES)}")
            for family in (code.family, *code.other_families):
                if family not in FAMILIES:
                    raise TypeError(f"{cls.__name__}: unknown family {family!r}")
            if code.code in CODES:
                raise TypeError(f"{cls.__name__}: code {code.code!r} is declared twice")
        CODES.update((code.code, code) for code in own)
        _DECLARED[cls] = next(_NUMBER)


class Note(Declares):
    """Codes of findings doctor's driver (``run.py``) makes itself, not a check over evidence:
    declared like a check's, never run."""


def unregister(cls: type) -> None:
    """Forget a declaring class and its codes (for tests that define one)."""
    _DECLARED.pop(cls, None)
    for code in cls.__dict__.get("codes", ()):
        CODES.pop(code.code, None)


def load_checks() -> None:
    """Import every file of checks, in ``CHECK_MODULES`` order (defining is registering)."""
    for name in CHECK_MODULES:
        importlib.import_module(f"triage.doctor.{name}")


def _place(cls: type) -> tuple[int, int]:
    module = cls.__module__.rpartition(".")[2]
    rank = CHECK_MODULES.index(module) if cls.__module__.startswith("triage.doctor.") and \
        module in CHECK_MODULES else len(CHECK_MODULES)
    return rank, _DECLARED[cls]


def declared() -> list[type]:
    """Every declaring class (checks and notes), by file (``CHECK_MODULES``) then definition."""
    return sorted(_DECLARED, key=_place)


def all_checks() -> tuple[Check, ...]:
    """An instance of every check, in the order they run: by stage, then by ``_place``."""
    classes = [cls for cls in _DECLARED if issubclass(cls, Check) and not inspect.isabstract(cls)]
    return tuple(cls() for cls in sorted(classes, key=lambda c: (STAGES.index(c.stage),
                                                                 *_place(c))))


class Check(Declares, abc.ABC):
    """One diagnosis. Subclasses set ``stage`` (one of ``STAGES``), declare the ``codes`` they
    introduce (a check may also emit a code another declares) and implement ``check``."""

    stage: ClassVar[str]

    def __init_subclass__(cls, register: bool = True, **kwargs: object) -> None:
        stage = getattr(cls, "stage", None)
        if stage not in STAGES:
            raise TypeError(f"{cls.__name__}.stage must be one of {', '.join(STAGES)}, got "
                            f"{stage!r}")
        super().__init_subclass__(register=register, **kwargs)  # registers it

    @abc.abstractmethod
    def check(self, evidence: Evidence) -> list[Finding]:
        """Read the evidence; return the findings (none when all is well)."""
        raise NotImplementedError
