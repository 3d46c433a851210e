"""Strategies: named searches over probes (see ``base.Strategy``)."""

from triage.lr_finder.strategies.backoff import BackOff, Candidate, Choice
from triage.lr_finder.strategies.base import Context, Probe, Strategy
from triage.lr_finder.strategies.nan_boundary import Boundary, DivergesEverywhere, NanBoundary
from triage.lr_finder.strategies.three_lr import ThreeLR

__all__ = ["PHASES", "BackOff", "Boundary", "Candidate", "Choice", "Context",
           "DivergesEverywhere", "NanBoundary", "Probe", "Strategy", "ThreeLR"]

PHASES = {s.name: s.label for s in (ThreeLR, NanBoundary, BackOff)}  # phase -> its label
