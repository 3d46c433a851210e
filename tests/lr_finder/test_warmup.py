"""Goyal's gradual warmup: the per-step ramp, where lr-find offers it, and how it is kept."""

import dataclasses

import pytest
import torch

from triage import Config, ProbeSettings
from triage.errors import ConfigError, SettingsError
from triage.lr_finder import warmup
from triage.lr_finder.evidence import LRFindEvidence
from triage.probe import ProbeResult, run_probe
from triage.training import Training

import tasks

CPU = ProbeSettings(lr=0.2, steps=12, device="cpu", batch_size=8, world_size=4)


def _lrs(training: Training, steps_per_epoch: int, steps: int) -> list[float]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.4)
    scheduler, per_step = training.scheduler(optimizer, steps_per_epoch)
    assert per_step
    seen = []
    for _ in range(steps):
        seen.append(round(optimizer.param_groups[0]["lr"], 6))
        optimizer.step()
        scheduler.step()
    return seen


def test_the_lr_rises_step_by_step_from_the_one_worker_lr():
    assert _lrs(Training(world_size=4, warmup_epochs=2), 3, 8) == [
        0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.4]


def test_the_epoch_schedule_applies_on_top_of_the_warmup():
    from triage.builders import StepSchedule

    training = Training(world_size=2, warmup_epochs=1, schedule=StepSchedule(2, 1))
    assert _lrs(training, 2, 8) == pytest.approx([0.2, 0.3, 0.4, 0.4, 0.4 / 1.5, 0.4 / 1.5,
                                                  0.4 / 2.25, 0.4 / 2.25], abs=1e-6)


@pytest.mark.parametrize(("changes", "says"), [
    ({"warmup_epochs": 1}, "needs world_size > 1"),
    ({"warmup_epochs": 0, "world_size": 2}, "warmup_epochs must be a positive integer"),
])
def test_a_warmup_needs_workers_and_whole_epochs(changes, says):
    with pytest.raises(SettingsError, match=says):
        Training(**changes)


def test_a_probe_warms_up_its_first_steps_only():
    prepared = tasks.blobs().prepare()
    warm = run_probe(prepared, CPU.with_(warmup_epochs=1))
    cold = run_probe(prepared, CPU)
    assert warm.losses[0] == cold.losses[0]  # the first loss is before any update
    assert warm.losses[1] != cold.losses[1]  # the first update at lr / 4


def test_a_config_round_trips_its_warmup_and_says_how_its_scheduler_steps(tmp_path):
    config = Config.from_settings(CPU.with_(warmup_epochs=2))
    assert config.warmup_epochs == 2 and config.per_step
    config.save(tmp_path / "c.yaml")
    back = Config.from_dict(config.to_dict())
    assert back.warmup_epochs == 2
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    with pytest.raises(ConfigError, match="pass steps_per_epoch"):
        back.make_scheduler(optimizer)
    assert back.make_scheduler(optimizer, 3) is not None
    assert not Config.from_settings(CPU).per_step


def _config(lr: float, one_worker_lr: float) -> Config:
    evidence = LRFindEvidence(max_finite_lr=1.0, backoff=1.0 / lr, rule="3x below", world_size=4,
                              one_worker_lr=one_worker_lr, chosen=0,
                              probes=[{"phase": "backoff", "lr": lr, "val_loss": 0.5}])
    return Config.from_settings(CPU.with_(lr=lr), lr_find=evidence)


def _runner(losses: dict[float, float | None]):
    asked: list[ProbeSettings] = []

    def run(settings, phase):
        assert phase == warmup.NAME
        asked.extend(settings)
        return [ProbeResult(settings=s, steps=12, losses=[1.0], val_loss=losses[s.lr],
                            diverged=losses[s.lr] is None) for s in settings]

    return run, asked


def test_no_warmup_is_offered_below_the_one_worker_boundary():
    run, asked = _runner({})
    config = warmup.offer(_config(0.2, 0.05), 0.3, CPU, run, 30)
    assert asked == [] and config.warmup_epochs is None and config.lr_find.warmup is None


def test_a_warmed_up_candidate_that_validates_better_is_kept_with_its_lr():
    run, asked = _runner({0.4: 0.45, 0.8: 0.40})
    config = warmup.offer(_config(0.4, 0.2), 0.3, CPU, run, 30)
    assert [s.lr for s in asked] == [0.4, 0.8]  # the job's LR, then the linear rule's
    assert all(s.warmup_epochs == 2 and s.steps == CPU.steps for s in asked)  # 5 of 90 of 30
    assert config.optimizer.lr == 0.8 and config.warmup_epochs == 2
    assert config.lr_find.warmup["kept"] and config.lr_find.backoff == 1.25
    assert "Goyal's gradual warmup over 2 epoch(s)" in config.lr_find.rule


def test_a_warmup_that_does_not_validate_better_is_recorded_not_kept():
    run, asked = _runner({0.4: 0.55})
    before = _config(0.4, 0.11)  # linear rule 0.44: not distinctly above the job's LR
    config = warmup.offer(dataclasses.replace(before), 0.3, CPU, run, 3)
    assert [s.lr for s in asked] == [0.4] and asked[0].warmup_epochs == 1
    assert config.optimizer.lr == 0.4 and config.warmup_epochs is None
    assert config.lr_find.warmup == {"epochs": 1, "start": "lr / 4", "without": 0.5,
                                     "candidates": [{"lr": 0.4, "val_loss": 0.55, "steps": 12}],
                                     "kept": False}


def test_train_warms_up_a_config_that_kept_a_warmup():
    from triage.trainer import TrainSettings, train

    settings = TrainSettings(device="cpu", epochs=3)
    warm = train(tasks.blobs(), Config.from_settings(CPU.with_(warmup_epochs=1)), settings)
    cold = train(tasks.blobs(), Config.from_settings(CPU), settings)
    assert [e.epoch for e in warm.curve] == [1, 2, 3] and warm.diverged is None
    assert warm.curve[0].train_loss != cold.curve[0].train_loss
