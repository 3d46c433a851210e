"""``triage sweep`` and ``triage report``: search spaces sampled on an Optuna study (pruning,
infeasible divergence and out-of-memory, many workers per study), and the summary any machine
can rebuild from the storage."""

from triage.sweeper.run import sweep
from triage.sweeper.settings import SweepSettings
from triage.sweeper.space import LRPrior, SearchSpace, SpaceError
from triage.sweeper.space_file import load_space
from triage.sweeper.summary import SweepSummary, load_summary

__all__ = ["LRPrior", "SearchSpace", "SpaceError", "SweepSettings", "SweepSummary",
           "load_space", "load_summary", "sweep"]
