"""Every use of Optuna's private API, in one place.

Optuna has no public way to do these few things. Each one is pinned by a test in
``tests/test_optuna_private.py`` that fails loudly, naming the use, when an Optuna release
changes it; ``pyproject.toml`` keeps optuna below its next major version. Nothing else in
triage touches an underscore name of Optuna's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.storages import BaseStorage, GrpcStorageProxy, JournalStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalRedisBackend
from optuna.trial import FrozenTrial, TrialState

from triage import interrupt

__all__ = ["BaseHeartbeat", "FinishedTrialsView", "HeartbeatGrpcProxyBase", "SubsetView",
           "TimedHeartbeatJournal", "heartbeat_interval", "ping_redis", "reseed_sampler",
           "stored_trial", "trial_id"]


def trial_id(trial: FrozenTrial | optuna.Trial) -> int:
    """The storage's id of a trial (``Trial._trial_id``, ``FrozenTrial._trial_id``)."""
    return trial._trial_id


def stored_trial(study: optuna.Study, trial: optuna.Trial) -> FrozenTrial:
    """The trial as the storage holds it now, read by id (``Study._storage``)."""
    return study._storage.get_trial(trial_id(trial))


def heartbeat_interval(study: optuna.Study) -> int | None:
    """Seconds between heartbeats of the study's storage, or None when it sends none."""
    storage: BaseStorage = study._storage
    return storage.get_heartbeat_interval() if isinstance(storage, BaseHeartbeat) else None


def ping_redis(backend: JournalRedisBackend) -> None:
    """Reach the Redis server now (``JournalRedisBackend._redis``), so a bad URL fails at once."""
    backend._redis.ping()


def reseed_sampler(sampler: optuna.samplers.BaseSampler, seed: int) -> None:
    """Seed a sampler's random state (``_rng.rng``), and that of TPE's start-up random sampler
    (``_random_sampler``). Optuna's public ``reseed_rng()`` only reseeds at random."""
    for part in (sampler, getattr(sampler, "_random_sampler", None)):
        if part is not None and hasattr(part, "_rng"):
            part._rng.rng.seed(seed)


class TimedHeartbeatJournal(JournalStorage, BaseHeartbeat):
    """A ``JournalStorage`` that Optuna's heartbeat machinery drives, with two hooks.

    Optuna calls ``_get_stale_trial_ids`` (``BaseHeartbeat``'s private abstract method) to find
    dead workers' trials; here it calls ``stale_trial_ids``. Every journal write goes through
    ``JournalStorage._write_log``; here each is timed and handed to ``wrote``, and a Ctrl-C
    arriving during it is raised once it is done (``interrupt.deferred``).
    """

    def wrote(self, seconds: float) -> None:
        """Called after every write to the journal with how long it took."""

    def stale_trial_ids(self, study_id: int) -> list[int]:
        """The RUNNING trials of ``study_id`` whose workers count as dead."""
        return []

    def _write_log(self, op_code: int, extra_fields: dict[str, Any]) -> None:
        start = time.monotonic()
        with interrupt.deferred():  # Ctrl-C mid-write would leave the file lock half-released
            super()._write_log(op_code, extra_fields)
        self.wrote(time.monotonic() - start)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self.stale_trial_ids(study_id)


class HeartbeatGrpcProxyBase(GrpcStorageProxy, BaseHeartbeat):
    """A ``GrpcStorageProxy`` that Optuna's heartbeat machinery drives: Optuna calls
    ``_get_stale_trial_ids`` (``BaseHeartbeat``'s private abstract method); here it calls
    ``stale_trial_ids``. (Optuna's proxy client has no heartbeat of its own.)"""

    def stale_trial_ids(self, study_id: int) -> list[int]:
        """The RUNNING trials of ``study_id`` whose workers count as dead."""
        return []

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self.stale_trial_ids(study_id)


class FinishedTrialsView:
    """The two things Optuna's percentile and median pruners read of a study (``direction`` and
    ``get_trials``), answered from a snapshot of its finished trials. Which members a pruner
    reads is Optuna's implementation, not its API."""

    def __init__(self, direction: optuna.study.StudyDirection,
                 finished: list[FrozenTrial]) -> None:
        self.direction = direction
        self._finished = finished

    def get_trials(self, deepcopy: bool = False,
                   states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return [t for t in self._finished if states is None or t.state in states]

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the pruning snapshot has no {name!r}; use the study's pruner "
                             "directly")


class SubsetView:
    """A study as Optuna's ``SuccessiveHalvingPruner`` uses it, holding only some of its
    trials: it reads ``get_trials`` and ``direction``, and records the rung a trial completed
    through ``_storage`` (passed through to the study's storage). Which members the pruner uses
    is Optuna's implementation, not its API."""

    def __init__(self, study: optuna.Study, trials: list[FrozenTrial]) -> None:
        self.direction = study.direction
        self._storage = study._storage
        self._trials = trials

    def get_trials(self, deepcopy: bool = False,
                   states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return [t for t in self._trials if states is None or t.state in states]

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the bracket's view has no {name!r}")
