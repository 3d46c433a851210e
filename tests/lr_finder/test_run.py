import dataclasses
import math

import pytest

from triage import Config, LRFindSettings, lr_find
from triage.errors import SettingsError
from triage.lr_finder import DivergesEverywhere
from triage.lr_finder.strategies import BackOff

import tasks

CPU = LRFindSettings(device="cpu")


@pytest.fixture(scope="module")
def sgd_config():
    return lr_find(tasks.blobs(), LRFindSettings(seed=3, device="cpu"))


def test_recommendation_sits_below_the_boundary(sgd_config):
    ev = sgd_config.lr_find
    assert isinstance(sgd_config, Config)
    assert sgd_config.optimizer.lr < ev.max_stable_lr < ev.divergence_lr
    assert ev.backoff == pytest.approx(ev.max_finite_lr / sgd_config.optimizer.lr, rel=0.01)
    assert ev.rule
    assert sgd_config.grad_clip_norm is None


def test_probes_follow_the_procedure(sgd_config):
    probes = sgd_config.lr_find.probes
    assert [p["lr"] for p in probes[:3]] == [0.1, 0.001, 1e-6]
    assert {p["phase"] for p in probes} == {"three_lr", "nan_boundary", "backoff"}
    assert any(p["diverged"] for p in probes)
    assert sum(p["steps"] for p in probes) == sgd_config.lr_find.steps_used <= 2000
    for p in probes:
        assert len(p["losses"]) == p["steps"]
        assert (p["divergence_step"] is not None) == p["diverged"]


def test_reproducible_with_a_seed(sgd_config):
    again = lr_find(tasks.blobs(), LRFindSettings(seed=3, device="cpu"))
    assert again == sgd_config
    other = lr_find(tasks.blobs(), LRFindSettings(seed=4, device="cpu"))
    assert other.lr_find.probes[0]["losses"] != sgd_config.lr_find.probes[0]["losses"]


@pytest.mark.parametrize("max_steps", [300, 700, 1200])
def test_step_budget_is_respected(max_steps):
    config = lr_find(tasks.blobs(), LRFindSettings(optimizer="adam", max_steps=max_steps,
                                                  device="cpu"))
    assert config.lr_find.steps_used <= max_steps
    assert config.optimizer.name == "adam" and math.isfinite(config.optimizer.lr)


def test_known_divergence_lr():
    config = lr_find(tasks.quadratic(10.0),
                     LRFindSettings(momentum=0.0, nesterov=False, device="cpu"))
    assert config.lr_find.max_finite_lr <= 0.01 < config.lr_find.divergence_lr
    assert config.lr_find.max_stable_lr <= config.lr_find.max_finite_lr
    assert config.optimizer.lr <= 0.01 / 3 * 1.0001


def test_bad_arguments():
    with pytest.raises(SettingsError, match="larger than the 96 training samples"):
        lr_find(tasks.blobs(), LRFindSettings(batch_size=97))
    with pytest.raises(SettingsError, match="max_steps"):
        LRFindSettings(max_steps=100)
    with pytest.raises(DivergesEverywhere):
        lr_find(tasks.always_nan(), CPU)


def test_resume_after_interruption(tmp_path):
    url = f"sqlite:///{tmp_path / 'lr.db'}"
    seen = []

    def crash_after_four(phase, result, reused):
        seen.append(reused)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lr_find(tasks.blobs(), CPU, storage=url, on_probe=crash_after_four)
    resumed = []
    config = lr_find(tasks.blobs(), CPU, storage=url,
                     on_probe=lambda phase, result, reused: resumed.append(reused))
    assert resumed[:4] == [True] * 4 and not any(resumed[4:])
    fresh = lr_find(tasks.blobs(), CPU)
    assert config.optimizer == fresh.optimizer
    assert config.lr_find.probes == fresh.lr_find.probes


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://bob:s3cret@db:5432/x", "postgresql://bob:***@db:5432/x"),
    ("redis://:pw@host:6379", "redis://:***@host:6379"),
    ("sqlite:///a.db", "sqlite:///a.db"),
    (None, None),
])
def test_storage_password_is_not_written(url, expected):
    from triage.storage import redact
    assert redact(url) == expected


def test_out_of_memory_stops_with_advice(monkeypatch):
    import torch

    from triage.errors import ProbeError

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr("triage.probe.runner.evaluate", oom)
    monkeypatch.setattr("triage.probe.runner.dead_relu_fraction", oom)
    with pytest.raises(ProbeError, match=r"ran out of memory .* lower --batch-size"):
        lr_find(tasks.blobs(), CPU)


@pytest.fixture
def two_cores(monkeypatch):
    """Two cores and torch's two threads in this process: lr-find itself must give a small
    model's probes one thread here, as its workers have, and give the caller's two back."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr("triage.probe.parallel.os.cpu_count", lambda: 2)
    yield
    assert torch.get_num_threads() == 2
    torch.set_num_threads(before)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_probes_at_once_give_the_same_config_as_one_at_a_time(two_cores, optimizer):
    settings = LRFindSettings(seed=1, device="cpu", optimizer=optimizer, max_steps=1200)
    alone = lr_find(tasks.blobs(), dataclasses.replace(settings, parallel=1))
    for workers in (2, 3):
        assert lr_find(tasks.blobs(), dataclasses.replace(settings, parallel=workers)) == alone


def test_ctrl_c_stops_the_workers_and_leaves_no_trial_running(tmp_path, two_cores):
    import multiprocessing

    from optuna.trial import TrialState

    storage = str(tmp_path / "probes.log")
    seen = []

    def interrupt(phase, result, reused):
        seen.append(phase)
        if phase == "nan_boundary":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lr_find(tasks.blobs(), LRFindSettings(device="cpu", parallel=2), storage=storage,
                on_probe=interrupt)
    assert not [p for p in multiprocessing.active_children()
                if p.name.startswith("triage-probe")]
    from triage.storage.studies import open_study

    trials = open_study(storage, "triage-lr-find-blobs").get_trials(deepcopy=False)
    assert trials and not [t for t in trials if t.state == TrialState.RUNNING]
    # and the run resumes from what was recorded
    resumed = []
    lr_find(tasks.blobs(), LRFindSettings(device="cpu", parallel=2), storage=storage,
            on_probe=lambda phase, result, reused: resumed.append(reused))
    assert resumed[:3] == [True, True, True] and not all(resumed)


@pytest.mark.parametrize("example", ["digits_mlp", "digits_cnn", "digits_lstm", "diabetes_mlp",
                                     "breast_cancer_mlp", "friedman_mlp"])
def test_the_bundled_examples_get_the_same_config_at_any_width(two_cores, example):
    from triage.examples import EXAMPLES

    alone = lr_find(EXAMPLES[example](), LRFindSettings(device="cpu", parallel=1))
    together = lr_find(EXAMPLES[example](), LRFindSettings(device="cpu", parallel=2))
    assert together == alone


def test_the_evidence_names_the_probe_trained_at_the_recommended_lr(sgd_config):
    ev = sgd_config.lr_find
    chosen = ev.chosen_probe
    assert chosen is ev.probes[ev.chosen] and chosen["phase"] == BackOff.name
    assert not chosen["diverged"] and chosen["val_loss"] is not None
    assert chosen["lr"] == pytest.approx(sgd_config.optimizer.lr, rel=1e-3)
    assert Config.from_dict(sgd_config.to_dict()).lr_find == ev  # the YAML keeps all of it
