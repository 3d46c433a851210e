"""One test per use of Optuna's private API (all of them live in triage/optuna_private.py).

When an Optuna release changes one of them, the test named after it fails here, before a sweep
silently misbehaves.
"""

import optuna
import pytest
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend
from optuna.trial import TrialState

from triage import optuna_private
from triage.storage import HeartbeatJournalStorage

from servers import server_url


def _study(storage=None, **kwargs):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, **kwargs)


def test_trial_id_and_stored_trial_read_the_storage_by_id():
    study = _study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    trial = study.ask()
    stored = optuna_private.stored_trial(study, trial)
    assert stored.number == trial.number and stored.state == TrialState.RUNNING
    frozen = study.get_trials()[0]
    assert optuna_private.trial_id(frozen) != optuna_private.trial_id(trial)


def test_heartbeat_interval_of_each_storage(tmp_path):
    assert optuna_private.heartbeat_interval(_study()) is None
    rdb = RDBStorage(f"sqlite:///{tmp_path / 'a.db'}", heartbeat_interval=7)
    assert optuna_private.heartbeat_interval(_study(rdb)) == 7
    journal = HeartbeatJournalStorage(JournalFileBackend(str(tmp_path / "j.log")),
                                      heartbeat_interval=9)
    assert optuna_private.heartbeat_interval(_study(journal)) == 9


def test_ping_redis_reaches_the_server():
    backend = JournalRedisBackend(server_url("redis"))
    optuna_private.ping_redis(backend)  # raises when the private client is gone or renamed


@pytest.mark.parametrize("sampler", [optuna.samplers.TPESampler, optuna.samplers.RandomSampler])
def test_reseed_sampler_repeats_the_draws(sampler):
    def draws(seed):
        study = _study(sampler=sampler(seed=0, **({"n_startup_trials": 1}
                                                  if sampler is optuna.samplers.TPESampler
                                                  else {})))
        values = []
        for _ in range(3):
            optuna_private.reseed_sampler(study.sampler, seed)
            trial = study.ask()
            values.append(trial.suggest_float("x", 0, 1))
            study.tell(trial, values[-1])
        return values

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_tpe_keeps_a_random_sampler_for_its_start_up_trials():
    sampler = optuna.samplers.TPESampler(seed=0)
    assert hasattr(sampler, "_rng") and hasattr(sampler._random_sampler, "_rng")


def test_the_journal_hooks_are_called(tmp_path):
    class Recording(optuna_private.TimedHeartbeatJournal):
        def __init__(self, backend):
            super().__init__(backend)
            self.writes, self.asked = [], []

        def wrote(self, seconds):
            self.writes.append(seconds)

        def stale_trial_ids(self, study_id):
            self.asked.append(study_id)
            running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
            return [optuna_private.trial_id(t) for t in running]

        # What Optuna's BaseHeartbeat needs besides the stale-trial hook.
        def record_heartbeat(self, trial_id):
            pass

        def get_heartbeat_interval(self):
            return 1

        def get_heartbeat_stale_trial_callback(self):
            return None

    storage = Recording(JournalFileBackend(str(tmp_path / "j.log")))
    study = _study(storage)
    assert storage.writes and all(s >= 0 for s in storage.writes)
    trial = study.ask()
    optuna.storages.fail_stale_trials(study)  # Optuna's own driver of the heartbeat
    assert storage.asked == [study._study_id]
    assert study.get_trials()[trial.number].state == TrialState.FAIL


def test_heartbeat_journal_implements_every_abstract_method():
    missing = optuna_private.BaseHeartbeat.__abstractmethods__ - {
        name for name in dir(HeartbeatJournalStorage)
        if not getattr(getattr(HeartbeatJournalStorage, name), "__isabstractmethod__", False)}
    assert not missing
    assert issubclass(HeartbeatJournalStorage, JournalStorage)
    assert "_write_log" in vars(JournalStorage)


def test_median_pruner_reads_only_what_the_snapshot_answers():
    study = _study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    for value in (1.0, 2.0, 3.0):
        trial = study.ask()
        for step in range(3):
            trial.report(value, step)
        study.tell(trial, value)
    view = optuna_private.FinishedTrialsView(
        study.direction, study.get_trials(states=(TrialState.COMPLETE,)))
    for value, expected in ((0.5, False), (9.0, True)):
        trial = study.ask()
        trial.report(value, 2)
        frozen = study.get_trials()[trial.number]
        assert bool(study.pruner.prune(view, frozen)) is expected  # AttributeError: reads more
        assert bool(study.pruner.prune(study, frozen)) is expected
        study.tell(trial, value)
