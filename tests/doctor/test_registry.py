"""Checks are registered by being defined: the lists of checks and codes, the cause order and
the docs' codes table are all derived from the checks' declarations."""

import os
from pathlib import Path

import pytest

import triage.doctor
from triage.doctor import CODES, Finding, Severity, all_checks, codes_table, doctor
from triage.doctor.base import CHECK_MODULES, STAGES, Check, declared, unregister
from triage.doctor.causes import EXPLAINS, ORDER, explains, order
from triage.doctor.codes import between_markers, with_table
from triage.doctor.findings import DEBUGGING, Code
from triage.probe import ProbeSettings

import tasks

ROOT = Path(__file__).resolve().parents[2]

# Written down from the hand-kept lists before checks declared themselves (run.ALL_CHECKS =
# DATA_CHECKS + MODEL_CHECKS + WIRING_CHECKS + TRAIN_CHECKS + (LRTooLow(),), and
# causes.ORDER): the derived orders must stay these; checks added since are in their place
# (UnguardedLog, issue 24).
CHECKS_THEN = [
    "NonFinite", "InputScale", "ConstantFeature", "TargetScale", "SplitMismatch",
    "ForwardError", "OutputShape", "OutputActivation", "BadInit", "LongSequence",
    "ConstantOutput", "NoNonlinearity", "SaturatedUnits", "LossTargetMismatch", "UnguardedLog",
    "TrainingFails", "OutOfMemory", "NanAtAnyLR", "DivergesEarly", "NotLearning",
    "CannotOverfit", "BatchingBug", "DeadUnits", "VanishingGradients", "ExplodingGradients",
    "UpdateRatio", "LRTooLow"]
ORDER_THEN = (
    "model.forward_error", "data.non_finite", "train.nan_at_any_lr", "train.out_of_memory",
    "model.output_shape", "model.loss_target_mismatch", "model.constant_output",
    "model.output_activation", "model.no_nonlinearity", "data.unnormalized_inputs",
    "data.unscaled_targets", "data.split_mismatch", "data.constant_feature", "model.bad_init",
    "model.saturated_units", "model.long_sequence", "train.dead_units",
    "train.vanishing_gradients", "train.cannot_overfit_small", "train.diverges_early",
    "train.lr_too_low", "train.not_learning", "train.exploding_gradients", "train.update_ratio")


def test_the_checks_run_in_the_order_the_hand_kept_list_had():
    assert [type(c).__name__ for c in all_checks()] == CHECKS_THEN
    assert [c.stage for c in all_checks()] == sorted((c.stage for c in all_checks()),
                                                     key=STAGES.index)


def test_the_cause_order_is_the_hand_kept_one():
    assert ORDER == order() == ORDER_THEN
    assert explains() == EXPLAINS and set(EXPLAINS) <= set(ORDER)


def test_every_file_of_checks_is_loaded_and_named_by_the_codes_it_declares():
    files = sorted(p.stem for p in (ROOT / "triage" / "doctor").glob("*_checks.py"))
    assert files == sorted(CHECK_MODULES)
    for cls in declared():
        module = cls.__module__.rpartition(".")[2]
        for code in cls.__dict__.get("codes", ()):
            assert module.startswith(code.code.partition(".")[0] + "_"), (cls, code.code)
    assert {code for cls in declared() for code in (c.code for c in cls.codes)} == set(CODES)


def test_the_docs_codes_table_is_generated_from_the_checks():
    """Run with TRIAGE_WRITE_DOCS=1 to rewrite the table (python3 -m triage.doctor.codes
    --write docs/doctor.md does the same)."""
    path = ROOT / "docs" / "doctor.md"
    if not path.exists():
        path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    if os.environ.get("TRIAGE_WRITE_DOCS") == "1":
        path.write_text(with_table(text), encoding="utf-8")
        text = path.read_text(encoding="utf-8")
    inside = between_markers(text)
    assert inside is not None, f"{path.name} has no <!-- codes:start --> ... codes:end lines"
    assert inside == codes_table(), (
        f"{path.name}'s codes table differs from the checks' declarations: run "
        f"python3 -m triage.doctor.codes --write {path.relative_to(ROOT)}")


def test_with_table_replaces_only_what_is_between_the_markers():
    text = "intro\n<!-- codes:start -->\nold\n<!-- codes:end -->\nafter\n"
    new = with_table(text)
    assert new.startswith("intro\n<!-- codes:start -->\n| code |")
    assert new.endswith("|\n<!-- codes:end -->\nafter\n")
    assert with_table(new) == new
    with pytest.raises(ValueError, match="codes:start"):
        with_table("no markers\n")


def test_a_code_is_declared_once_with_a_known_family_and_stage():
    with pytest.raises(TypeError, match="declared twice"):
        class Twice(Check):
            stage = "train"
            codes = (Code("train.not_learning", "learning_rate", DEBUGGING, "again"),)

            def check(self, evidence):
                return []
    with pytest.raises(TypeError, match="unknown family"):
        class Vibes(Check):
            stage = "train"
            codes = (Code("train.vibes", "vibes", DEBUGGING, "bad vibes"),)

            def check(self, evidence):
                return []
    assert "train.vibes" not in CODES and not any(c.__name__ in ("Twice", "Vibes")
                                                  for c in declared())


@pytest.fixture
def dummy_check():
    """A check defined here, so registered; forgotten afterwards."""

    class Dummy(Check):
        stage = "train"
        codes = (Code("train.dummy", "optimizer", DEBUGGING, "a planted finding", "warning",
                      "whenever the configured probe ran", frozenset({"train.update_ratio"}),
                      cause_order=10_000),)

        def check(self, ev):
            if ev.runs.get("configured") is None:
                return []
            return [Finding("train.dummy", Severity.WARNING, "dummy says hello", {"n": 1},
                            "nothing")]

    yield Dummy
    unregister(Dummy)
    assert "train.dummy" not in CODES and Dummy not in declared()


def test_a_check_defined_anywhere_runs_and_is_listed_and_documented(dummy_check):
    assert type(all_checks()[-1]) is dummy_check  # after the built-in checks of its stage
    assert CODES["train.dummy"].family == "optimizer"
    assert "| `train.dummy` | optimizer | warning | whenever the configured probe ran |" \
        in triage.doctor.codes_table()
    assert explains()["train.dummy"] == {"train.update_ratio"}
    assert order()[-1] == "train.dummy"
    diagnosis = doctor(tasks.blobs(), ProbeSettings(lr=0.05, device="cpu", seed=0))
    found = [f for f in diagnosis.findings if f.code == "train.dummy"]
    assert [f.message for f in found] == ["dummy says hello"]
    assert found[0].source == DEBUGGING and found[0].to_dict()["family"] == "optimizer"


def test_a_check_can_stay_unregistered_for_explicit_use():
    class Handed(Check, register=False):
        stage = "data"

        def check(self, evidence):
            return []

    assert Handed not in declared() and not any(isinstance(c, Handed) for c in all_checks())
