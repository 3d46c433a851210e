"""``triage doctor``: checks over a task and short probes, returning ranked findings."""

from triage.doctor.base import Check, Evidence
from triage.doctor.findings import CODES, FAMILIES, Finding, Severity
from triage.doctor.run import Diagnosis, doctor

diagnose = doctor  # ``triage.diagnose``: the package name ``triage.doctor`` is taken

__all__ = ["CODES", "FAMILIES", "Check", "Diagnosis", "Evidence", "Finding", "Severity",
           "diagnose", "doctor"]
