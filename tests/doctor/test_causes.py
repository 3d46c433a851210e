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
