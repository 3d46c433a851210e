"""The probe engine: short, instrumented training runs that every strategy asks for."""

from triage.probe.result import ProbeResult
from triage.probe.runner import evaluate, run_probe, run_probes
from triage.probe.settings import ProbeSettings

__all__ = ["ProbeResult", "ProbeSettings", "evaluate", "run_probe", "run_probes"]
