"""triage: the field's advice for training neural networks, as automated, measured procedures.

Public API (imported lazily, so ``import triage`` and ``triage --help`` stay fast)::

    triage.Task, triage.examples, triage.from_transformers, triage.from_lightning
    triage.lr_find, triage.LRFindSettings                    # triage lr-find
    triage.sweep, triage.SweepSettings, triage.SweepSummary,  # triage sweep / report
    triage.load_space, triage.SearchSpace, triage.LRPrior, triage.load_summary
    triage.diagnose, triage.DoctorSettings, triage.Diagnosis  # triage doctor
    triage.Config, triage.load_config, triage.StepSchedule   # the recommendation
    triage.Training                                           # how a model trains
    triage.run_probes, triage.ProbeSettings, triage.ProbeResult, triage.ProbeCallback
    triage.TriageError
"""

from __future__ import annotations

import importlib
from typing import Any

from triage.errors import TriageError

__version__ = "0.1.0"

_LAZY = {
    "Task": "triage.task",
    "from_transformers": "triage.adapters.hugging_face",
    "from_lightning": "triage.adapters.lightning",
    "from_table": "triage.tables",
    "examples": "triage.examples",
    "lr_find": "triage.lr_finder",
    "LRFindSettings": "triage.lr_finder",
    "sweep": "triage.sweeper",
    "SweepSettings": "triage.sweeper",
    "SweepSummary": "triage.sweeper",
    "load_space": "triage.sweeper",
    "SearchSpace": "triage.sweeper",
    "LRPrior": "triage.sweeper",
    "load_summary": "triage.sweeper",
    "diagnose": "triage.doctor",
    "Diagnosis": "triage.doctor",
    "DoctorSettings": "triage.doctor",
    "Training": "triage.training",
    "Config": "triage.config",
    "load_config": "triage.config",
    "StepSchedule": "triage.builders",
    "run_probes": "triage.probe",
    "ProbeSettings": "triage.probe",
    "ProbeResult": "triage.probe",
    "ProbeCallback": "triage.probe",
}

__all__ = ["TriageError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if name == "examples" else getattr(module, name)
    raise AttributeError(f"module 'triage' has no attribute {name!r}")
