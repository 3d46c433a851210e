"""The probe engine: short, instrumented training runs that every strategy asks for."""

from triage.probe.callbacks import ProbeCallback
from triage.probe.result import ProbeResult
from triage.probe.runner import evaluate, run_probe, run_probes
from triage.probe.settings import ProbeSettings

__all__ = ["ProbeCallback", "ProbeResult", "ProbeSettings", "evaluate", "run_probe", "run_probes"]
