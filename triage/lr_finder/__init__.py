"""``triage lr-find``: the documents' learning-rate procedure as strategies over probes, each
probe a trial of one Optuna study (so a rerun resumes)."""

from triage.lr_finder.run import LRFindSettings, OnProbe, lr_find
from triage.lr_finder.strategies import DivergesEverywhere

__all__ = ["DivergesEverywhere", "LRFindSettings", "OnProbe", "lr_find"]
