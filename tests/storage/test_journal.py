import time

import optuna
import pytest
from optuna.trial import TrialState

from triage.storage import make_storage
from triage.storage.heartbeat import HEARTBEAT_KEY
from triage.storage.journal import HeartbeatJournalStorage


class Clock:
    """Real wall and monotonic clocks, moved forward on demand."""

    def __init__(self, monkeypatch):
        self.offset = 0.0
        wall, mono = time.time, time.monotonic
        monkeypatch.setattr(time, "time", lambda: wall() + self.offset)
        monkeypatch.setattr(time, "monotonic", lambda: mono() + self.offset)

    def advance(self, seconds):
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def _running_trial(storage):
    study = optuna.create_study(storage=storage, study_name="h")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    return study, trial


def test_a_silent_trial_goes_stale_and_is_queued_again(tmp_path, clock):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    assert isinstance(storage, HeartbeatJournalStorage)
    study, trial = _running_trial(storage)
    storage.record_heartbeat(trial._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []  # just beat
    clock.advance(10)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]
    optuna.storages.fail_stale_trials(study)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.WAITING]  # failed, and retried
    assert study.trials[1].system_attrs["retry_history"] == [0]
    assert study.trials[1].params == study.trials[0].params


def test_a_retried_trial_counts_from_its_own_start(tmp_path, clock):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    study, trial = _running_trial(storage)
    # inherited from the trial it retries: a beat long ago
    storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_KEY, time.time() - 100)
    assert storage._get_stale_trial_ids(study._study_id) == []
    clock.advance(3)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]


def test_an_old_beat_is_judged_only_after_watching_it_for_the_grace_period(tmp_path, clock):
    """A worker that starts (or looks) just after a held-up journal let go sees old beats that
    are about to be replaced: it judges only beats it has itself seen unchanged that long."""
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    study, trial = _running_trial(storage)
    storage.record_heartbeat(trial._trial_id)
    clock.advance(30)  # the journal held everyone's beats for 30 s
    late = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    assert late._get_stale_trial_ids(study._study_id) == []  # first sight of this beat
    clock.advance(1.5)
    storage.record_heartbeat(trial._trial_id)  # the live worker's beat lands
    clock.advance(1.5)
    assert late._get_stale_trial_ids(study._study_id) == []  # it changed: alive
    clock.advance(2.5)
    assert late._get_stale_trial_ids(study._study_id) == [trial._trial_id]  # silent since


def test_watching_is_per_study(tmp_path, clock):
    storage = make_storage(f"{tmp_path}/j.log", heartbeat_interval=1, grace_period=2)
    study, trial = _running_trial(storage)
    other = optuna.create_study(storage=storage, study_name="other")
    storage.record_heartbeat(trial._trial_id)
    clock.advance(10)
    assert storage._get_stale_trial_ids(study._study_id) == []
    assert storage._get_stale_trial_ids(other._study_id) == []  # keeps study's watch
    clock.advance(3)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]


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


def test_grace_must_exceed_the_interval(tmp_path):
    from optuna.storages.journal import JournalFileBackend

    with pytest.raises(ValueError, match="grace_period must exceed heartbeat_interval"):
        HeartbeatJournalStorage(JournalFileBackend(f"{tmp_path}/j.log"), heartbeat_interval=2,
                                grace_period=2)


class HeldUpBackend:
    """A file journal whose appends wait ``delay`` seconds while ``held`` (a lock held by a
    killed worker)."""

    def __init__(self, path, delay=1.2):
        from optuna.storages.journal import JournalFileBackend

        self.inner, self.delay, self.held = JournalFileBackend(path), delay, False

    def read_logs(self, log_number_from):
        return self.inner.read_logs(log_number_from)

    def append_logs(self, logs):
        if self.held:
            time.sleep(self.delay)
        self.inner.append_logs(logs)


def _silent_trial(tmp_path, clock):
    backend = HeldUpBackend(f"{tmp_path}/j.log")
    storage = HeartbeatJournalStorage(backend, heartbeat_interval=1, grace_period=2)
    study, trial = _running_trial(storage)
    storage.record_heartbeat(trial._trial_id)
    storage._get_stale_trial_ids(study._study_id)  # watching it from its beat on
    clock.advance(10)  # silent for 10 s, grace 2 s
    return backend, storage, study, trial


def test_a_silent_trial_is_judged_once_writes_go_through(tmp_path, clock):
    _, storage, study, trial = _silent_trial(tmp_path, clock)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]


@pytest.mark.parametrize("held_write", ["probe", "own heartbeat", "new trial"])
def test_a_held_up_journal_suspends_judgement(tmp_path, clock, held_write):
    backend, storage, study, trial = _silent_trial(tmp_path, clock)
    backend.held = True
    if held_write != "probe":  # another write of this worker's was held up
        other = study.ask()
        if held_write == "own heartbeat":
            backend.held = False
            storage.record_heartbeat(other._trial_id)  # needs an unheld ask first
            backend.held = True
            storage.record_heartbeat(other._trial_id)
        backend.held = False
    # everyone's beats were held up as long: the silence proves nothing
    assert storage._get_stale_trial_ids(study._study_id) == []
    backend.held = False
    assert storage._get_stale_trial_ids(study._study_id) == []  # still suspended
    clock.advance(2 * 2 + 1.5)  # after twice the grace period
    assert trial._trial_id in storage._get_stale_trial_ids(study._study_id)
