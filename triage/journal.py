"""Heartbeats for Optuna's journal storages (file and Redis backends).

Optuna's RDB storage fails the trials of a dead worker once their heartbeat goes stale and hands
them to a retry callback; its journal storage has no heartbeat. This subclass adds one with the
journal's own means: each running trial's worker appends a timestamp to the trial's system
attributes every ``heartbeat_interval`` seconds, and any worker treats a RUNNING trial whose
last beat is older than the grace period as stale. Optuna's ``Study.optimize`` then drives it
exactly as it drives the RDB heartbeat (``fail_stale_trials`` and the stale-trial callback).

Timestamps come from each worker's clock, so machines sharing a journal should keep their clocks
in sync (NTP) to well within the grace period.

Silence only means death while the journal accepts writes. A worker killed while it holds the
file journal's lock holds every other worker's writes, beats included, until the lock's own
grace period (30 s) frees it; afterwards every live trial looks silent. So a worker judges
staleness only after a write of its own went through promptly, and a write that took longer
than the grace period allows (its own beat, or the probe it writes before judging) suspends
judgement until every worker has had time to beat again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import FrozenTrial, TrialState

HEARTBEAT_KEY = "triage:heartbeat"
PROBE_KEY = "triage:stale-check"  # study attribute written before judging staleness
StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A ``JournalStorage`` whose running trials send heartbeats.

    Args:
        backend: the journal backend (``JournalFileBackend`` or ``JournalRedisBackend``).
        heartbeat_interval: seconds between beats; None disables heartbeats.
        grace_period: seconds without a beat after which a trial is stale (default: twice the
            interval, as in Optuna's RDB storage).
        heartbeat_stale_trial_callback: called with each trial failed for being stale, e.g.
            ``optuna.storages.RetryHeartbeatStaleTrialCallback``.
    """

    def __init__(
        self,
        backend: BaseJournalBackend,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        heartbeat_stale_trial_callback: StaleCallback | None = None,
    ) -> None:
        for name, value in (("heartbeat_interval", heartbeat_interval),
                            ("grace_period", grace_period)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value <= 0):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if heartbeat_interval and grace_period and grace_period <= heartbeat_interval:
            raise ValueError(f"grace_period must exceed heartbeat_interval, got {grace_period!r} "
                             f"<= {heartbeat_interval!r}")
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_callback = heartbeat_stale_trial_callback
        self._judge_after = 0.0  # time.monotonic() before which nobody is judged stale

    def record_heartbeat(self, trial_id: int) -> None:
        # The trial may finish between the beat being due and written.
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            self._timed_write(self.set_trial_system_attr, trial_id, HEARTBEAT_KEY, time.time())

    def _grace(self) -> float:
        assert self._heartbeat_interval is not None
        return self._grace_period or 2 * self._heartbeat_interval

    def _timed_write(self, write: Callable[[int, str, float], None], *args: Any) -> None:
        """Write, and suspend judgement if the journal held the write up: a beat held up for
        longer than ``grace - interval`` may make a live trial look stale elsewhere too."""
        assert self._heartbeat_interval is not None
        start = time.monotonic()
        write(*args)
        end = time.monotonic()
        if end - start > self._grace() - self._heartbeat_interval:
            # Held-up beats land within about one interval after the hold ends, and fresh ones
            # follow one interval later; twice the grace period covers both.
            self._judge_after = max(self._judge_after, end + 2 * self._grace())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        if time.monotonic() < self._judge_after or not self._silent_trial_ids(study_id):
            return []
        # Someone looks silent: make sure writes go through now before believing it.
        self._timed_write(self.set_study_system_attr, study_id, PROBE_KEY, time.time())
        if time.monotonic() < self._judge_after:
            return []
        return self._silent_trial_ids(study_id)

    def _silent_trial_ids(self, study_id: int) -> list[int]:
        grace = self._grace()
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_KEY)
            if beat is None:
                continue  # not run under Study.optimize (or about to send its first beat)
            # A retried trial inherits its predecessor's last beat: count from its own start.
            started = trial.datetime_start.timestamp() if trial.datetime_start else beat
            if now - max(beat, started) > grace:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._stale_callback
