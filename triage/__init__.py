"""triage: the field's advice for training neural networks, as automated, measured procedures.

Public API (imported lazily, so ``import triage`` and ``triage --help`` stay fast)::

    triage.Task, triage.lr_find, triage.load_config, triage.Config,
    triage.sweep, triage.SweepSettings, triage.load_space, triage.diagnose (doctor),
    triage.run_probes, triage.ProbeSettings, triage.ProbeResult, triage.TriageError
"""

from __future__ import annotations

import importlib
from typing import Any

from triage.errors import TriageError

__version__ = "0.1.0"

_LAZY = {
    "Task": "triage.task",
    "lr_find": "triage.lr_finder",
    "load_config": "triage.config",
    "Config": "triage.config",
    "sweep": "triage.sweeper",
    "SweepSettings": "triage.sweeper",
    "load_space": "triage.space",
    "diagnose": "triage.doctor",
    "run_probes": "triage.probe",
    "ProbeSettings": "triage.probe",
    "ProbeResult": "triage.probe",
    "StepSchedule": "triage.builders",
    "examples": "triage.examples",
}

__all__ = ["TriageError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if name == "examples" else getattr(module, name)
    raise AttributeError(f"module 'triage' has no attribute {name!r}")
