import time

import optuna
import pytest
from optuna.trial import TrialState

from triage.journal import HEARTBEAT_KEY, HeartbeatJournalStorage
from triage.study import make_storage


def _running_trial(storage):
    study = optuna.create_study(storage=storage, study_name="h")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    return study, trial


def test_a_silent_trial_goes_stale_and_is_queued_again(tmp_path, monkeypatch):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    assert isinstance(storage, HeartbeatJournalStorage)
    study, trial = _running_trial(storage)
    storage.record_heartbeat(trial._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []  # just beat
    beat = time.time()
    monkeypatch.setattr(time, "time", lambda: beat + 10)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]
    optuna.storages.fail_stale_trials(study)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.WAITING]  # failed, and retried
    assert study.trials[1].system_attrs["retry_history"] == [0]
    assert study.trials[1].params == study.trials[0].params


def test_a_retried_trial_counts_from_its_own_start(tmp_path, monkeypatch):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    study, trial = _running_trial(storage)
    # inherited from the trial it retries: a beat long ago
    storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_KEY, time.time() - 100)
    assert storage._get_stale_trial_ids(study._study_id) == []


def test_no_heartbeat_no_staleness_and_no_retry_when_disabled(tmp_path):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, max_retry=0)
    assert storage.get_heartbeat_stale_trial_callback() is None
    study, _ = _running_trial(storage)
    assert storage._get_stale_trial_ids(study._study_id) == []  # never beat: not judged
    assert make_storage(f"{tmp_path}/k.log").get_heartbeat_interval() is None


def test_heartbeats_are_sent_while_a_trial_runs(tmp_path):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1)
    study = optuna.create_study(storage=storage)
    study.optimize(lambda trial: time.sleep(1.2) or 0.0, n_trials=1)
    assert HEARTBEAT_KEY in study.trials[0].system_attrs


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_intervals_are_validated(tmp_path, value):
    from optuna.storages.journal import JournalFileBackend

    with pytest.raises(ValueError, match="heartbeat_interval must be a positive integer"):
        HeartbeatJournalStorage(JournalFileBackend(f"{tmp_path}/j.log"), heartbeat_interval=value)
