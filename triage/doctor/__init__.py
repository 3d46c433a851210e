"""``triage doctor``: checks over a task and short probes, returning ranked findings."""

from triage.doctor.base import Check, Evidence, all_checks, load_checks
from triage.doctor.findings import CODES, FAMILIES, Finding, Severity
from triage.doctor.run import Diagnosis, doctor
from triage.doctor.settings import DoctorSettings

load_checks()  # defining a check registers it: every file of checks is imported here

diagnose = doctor  # ``triage.diagnose``: the package name ``triage.doctor`` is taken


def codes_table() -> str:
    """The docs' markdown table of every finding code (``triage.doctor.codes``, imported when
    called so ``python3 -m triage.doctor.codes`` runs it fresh)."""
    from triage.doctor.codes import codes_table as table

    return table()

__all__ = ["CODES", "FAMILIES", "Check", "Diagnosis", "DoctorSettings", "Evidence", "Finding",
           "Severity", "all_checks", "codes_table", "diagnose", "doctor"]
