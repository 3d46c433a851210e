"""The cause-first ranking."""

import pytest

from triage.doctor.causes import EXPLAINS, ORDER, rank
from triage.doctor.findings import Finding, Severity

E, W, NOTE = Severity.ERROR, Severity.WARNING, Severity.INFO


def finding(code: str, severity: Severity, name: str) -> Finding:
    return Finding(code, severity, name, {}, "fix")


def names(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings]


def test_a_warning_that_explains_an_error_comes_first_with_the_error_under_it():
    diverges = finding("train.diverges_early", E, "diverges")
    scale = finding("data.unnormalized_inputs", W, "scale")
    other = finding("model.long_sequence", W, "long")
    ranked = rank([diverges, scale, other])
    assert names(ranked) == ["scale", "diverges", "long"]
    assert diverges.caused_by == "data.unnormalized_inputs"
    assert scale.caused_by is None and other.caused_by is None
    assert diverges.severity == E  # the exit code still sees the error


def test_a_chain_is_shown_under_its_root_with_each_direct_cause_named():
    ratio = finding("train.update_ratio", W, "ratio")
    flat = finding("train.not_learning", E, "flat")
    dead = finding("train.dead_units", E, "dead")
    constant = finding("model.bad_init", E, "init")
    ranked = rank([ratio, flat, dead, constant])
    assert names(ranked) == ["init", "dead", "flat", "ratio"]
    assert dead.caused_by == "model.bad_init"
    assert flat.caused_by == "model.bad_init"  # the earliest cause in ORDER that explains it


def test_a_consequence_of_a_consequence_is_not_lost():
    # cannot_overfit explains not_learning; saturated units explain cannot_overfit but the
    # chain must keep every finding exactly once
    findings = [finding("train.not_learning", E, "flat"),
                finding("train.cannot_overfit_small", E, "overfit"),
                finding("train.vanishing_gradients", W, "vanish")]
    ranked = rank(findings)
    assert sorted(names(ranked)) == ["flat", "overfit", "vanish"]
    assert names(ranked)[0] == "vanish"


def test_notes_explain_nothing_and_unrelated_errors_come_before_warnings():
    note = finding("data.constant_feature", NOTE, "note")
    flat = finding("train.not_learning", E, "flat")
    long = finding("model.long_sequence", W, "long")
    spikes = finding("train.exploding_gradients", W, "spikes")
    ranked = rank([note, long, flat, spikes])
    assert names(ranked) == ["long", "flat", "spikes", "note"]  # long explains flat and spikes
    assert note.caused_by is None
    ranked = rank([note, finding("train.update_ratio", W, "ratio"), flat])
    assert names(ranked) == ["flat", "ratio", "note"]


@pytest.mark.parametrize("cause", sorted(EXPLAINS))
def test_a_cause_only_explains_codes_after_it_so_no_two_explain_each_other(cause):
    assert cause in ORDER
    for effect in EXPLAINS[cause]:
        assert effect in ORDER and ORDER.index(effect) > ORDER.index(cause), effect


def test_to_dict_names_the_cause():
    flat = finding("train.not_learning", E, "flat")
    rank([flat, finding("train.cannot_overfit_small", E, "overfit")])
    assert flat.to_dict()["caused_by"] == "train.cannot_overfit_small"


def measured(code: str, severity: Severity, name: str, loss: float | None,
             helped: bool = True) -> Finding:
    """A finding whose fix was tried (``verify``) and reached ``loss``."""
    f = finding(code, severity, name)
    f.verified = {"tried": True, "helped": helped, "after_loss": loss}
    return f


def test_a_symptom_whose_own_fix_repairs_more_is_no_consequence():
    scale = measured("data.unnormalized_inputs", E, "scale", loss=5000.0)
    diverges = measured("train.diverges_early", E, "diverges", loss=0.1)
    ranked = rank([scale, diverges])
    assert names(ranked) == ["diverges", "scale"]
    assert diverges.caused_by is None


def test_a_cause_whose_fix_repairs_more_keeps_its_symptom_under_it():
    scale = measured("data.unnormalized_inputs", E, "scale", loss=0.1)
    diverges = measured("train.diverges_early", E, "diverges", loss=5000.0)
    assert names(rank([diverges, scale])) == ["scale", "diverges"]
    assert diverges.caused_by == "data.unnormalized_inputs"


@pytest.mark.parametrize("losses, first", [((0.5, 0.2), "targets"), ((0.2, 0.5), "inputs")])
def test_causes_of_one_severity_are_ordered_by_what_their_fix_reached(losses, first):
    inputs = measured("data.unnormalized_inputs", W, "inputs", loss=losses[0])
    targets = measured("data.unscaled_targets", W, "targets", loss=losses[1])
    assert names(rank([inputs, targets]))[0] == first


def test_a_cause_no_probe_can_try_keeps_its_place_among_measured_ones():
    inputs = measured("data.unnormalized_inputs", W, "inputs", loss=0.5)
    long = finding("model.long_sequence", W, "long")  # untried, after the data in ORDER
    targets = measured("data.unscaled_targets", W, "targets", loss=0.2)
    init = measured("model.bad_init", W, "init", loss=0.1)
    assert names(rank([long, inputs, targets, init])) == ["init", "targets", "inputs", "long"]
    activation = finding("model.output_activation", W, "activation")
    assert names(rank([init, activation]))[0] == "activation"


def test_fixes_that_reach_the_same_place_leave_the_cause_first_order_alone():
    # both repair a run that started at 0.69: 7e-5 against 4e-4 is the same place
    scale = measured("data.unnormalized_inputs", E, "scale", loss=4.3e-4)
    diverges = measured("train.diverges_early", E, "diverges", loss=7e-5)
    for f in (scale, diverges):
        f.verified["first_loss"] = 0.69
    assert names(rank([diverges, scale])) == ["scale", "diverges"]
    assert diverges.caused_by == "data.unnormalized_inputs"
    inputs = measured("data.unnormalized_inputs", W, "inputs", loss=0.30)
    targets = measured("data.unscaled_targets", W, "targets", loss=0.29)
    for f in (inputs, targets):
        f.verified["first_loss"] = 1.0
    assert names(rank([targets, inputs])) == ["inputs", "targets"]
