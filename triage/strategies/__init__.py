"""Strategies: named searches over probes (see ``base.Strategy``)."""

from triage.strategies.backoff import BackOff, Candidate, Choice
from triage.strategies.base import Context, Probe, Strategy
from triage.strategies.nan_boundary import Boundary, DivergesEverywhere, NanBoundary
from triage.strategies.three_lr import ThreeLR

__all__ = ["BackOff", "Boundary", "Candidate", "Choice", "Context", "DivergesEverywhere",
           "NanBoundary", "Probe", "Strategy", "ThreeLR"]
