"""A test per finding code: each seeded fault is found, and clean programs raise no error."""

import os

import pytest

from triage.doctor import CODES, FAMILIES, Severity, doctor

from faults import seen_zoo as zoo

DEVICE = os.environ.get("TRIAGE_TEST_DEVICE", "cpu")  # cuda on a GPU machine
# Codes whose seeded tasks live beside their own tests (test_run.py, test_forms.py for the
# stages skipped on items doctor cannot read as (x, y)) rather than in the zoo.
ELSEWHERE = {"data.batch_clamped", "model.forward_error", "model.output_shape",
             "train.out_of_memory", "data.not_checked", "model.not_checked",
             "train.overfit_not_checked", "data.fixed_by_preprocessing"}


def test_every_code_has_a_seeded_fault():
    covered = {case.expected for case in zoo.FAULTS.values()}
    assert covered | ELSEWHERE == set(CODES)
    assert len(zoo.FAULTS) >= 20


@pytest.mark.parametrize("name", sorted(zoo.FAULTS))
def test_fault_is_found_with_evidence_and_a_fix(name):
    case = zoo.FAULTS[name]
    diagnosis = doctor(case.task(), case.settings(device=DEVICE))
    found = [f for f in diagnosis.findings if f.code == case.expected]
    assert found, f"{name}: expected {case.expected}"
    finding = found[0]
    assert finding.severity >= Severity.WARNING or case.expected == "data.constant_feature"
    assert finding.evidence and finding.fix and finding.message
    assert finding.family in FAMILIES and finding.source
    family = case.family or CODES[case.expected].family
    loud = [f for f in diagnosis.findings if f.severity >= Severity.WARNING]
    assert loud and loud[0].family == family and loud[0].caused_by is None, (  # cause first
        [(f.code, f.family) for f in loud])


@pytest.mark.parametrize("name", sorted(zoo.CLEAN))
def test_clean_program_has_no_error(name):
    case = zoo.CLEAN[name]
    diagnosis = doctor(case.task(), case.settings(device=DEVICE))
    assert diagnosis.errors == [], [f.message for f in diagnosis.errors]
    assert not any(f.code == "model.output_activation" for f in diagnosis.findings)
