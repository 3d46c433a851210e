"""Heartbeats kept in trial attributes, for storages that Optuna gives none.

Optuna's RDB storage fails the trials of a dead worker once their heartbeat goes stale; its
journal storages and its gRPC storage proxy have no heartbeat. ``AttrHeartbeat`` adds one with
the storage's own means: each running trial's worker writes a timestamp into the trial's system
attributes every ``heartbeat_interval`` seconds, and any worker treats a RUNNING trial whose
last beat is older than the grace period, and which it has itself watched stay silent that
long, as stale. Optuna's ``Study.optimize`` then drives it exactly as it drives the RDB
heartbeat (``fail_stale_trials`` and the stale-trial callback).

Timestamps come from each worker's clock, so machines sharing a study should keep their clocks
in sync (NTP) to well within the grace period.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage.optuna_private import trial_id as id_of

HEARTBEAT_KEY = "triage:heartbeat"
PROBE_KEY = "triage:stale-check"  # study attribute written before judging staleness
StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


class AttrHeartbeat:
    """The heartbeat half of a storage (mix it in before the storage class).

    A storage that can hold up writes (a journal's lock) calls ``suspend_judgement`` so that
    nobody is judged stale while beats cannot land.
    """

    def setup_heartbeat(
        self,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        heartbeat_stale_trial_callback: StaleCallback | None = None,
    ) -> None:
        """Validate and keep the settings.

        Args:
            heartbeat_interval: seconds between beats; None disables heartbeats.
            grace_period: seconds without a beat after which a trial is stale (default: twice
                the interval, as in Optuna's RDB storage).
            heartbeat_stale_trial_callback: called with each trial failed for being stale,
                e.g. ``optuna.storages.RetryHeartbeatStaleTrialCallback``.
        """
        for name, value in (("heartbeat_interval", heartbeat_interval),
                            ("grace_period", grace_period)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value <= 0):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if heartbeat_interval and grace_period and grace_period <= heartbeat_interval:
            raise ValueError(f"grace_period must exceed heartbeat_interval, got {grace_period!r} "
                             f"<= {heartbeat_interval!r}")
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_callback = heartbeat_stale_trial_callback
        self._judge_after = 0.0  # time.monotonic() before which nobody is judged stale
        # study id -> trial id -> (its last beat as seen here, time.monotonic() first seen)
        self._watched: dict[int, dict[int, tuple[float, float]]] = {}

    def record_heartbeat(self, trial_id: int) -> None:
        # The trial may finish between the beat being due and written.
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            self.set_trial_system_attr(trial_id, HEARTBEAT_KEY, time.time())

    def _grace(self) -> float:
        assert self._heartbeat_interval is not None
        return self._grace_period or 2 * self._heartbeat_interval

    def suspend_judgement(self, until: float) -> None:
        """Judge nobody stale before ``time.monotonic()`` reaches ``until``."""
        self._judge_after = max(self._judge_after, until)

    def stale_trial_ids(self, study_id: int) -> list[int]:
        if not self._silent_trial_ids(study_id) or time.monotonic() < self._judge_after:
            return []
        # Someone looks silent: make sure writes go through now before believing it.
        self.set_study_system_attr(study_id, PROBE_KEY, time.time())
        if time.monotonic() < self._judge_after:
            return []
        return self._silent_trial_ids(study_id)

    def _silent_trial_ids(self, study_id: int) -> list[int]:
        grace = self._grace()
        now, watching = time.time(), time.monotonic()
        watched: dict[int, tuple[float, float]] = {}
        stale: list[int] = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_KEY)
            if beat is None:
                continue  # not run under Study.optimize (or about to send its first beat)
            seen, since = self._watched.get(study_id, {}).get(id_of(trial), (None, watching))
            since = since if seen == beat else watching
            watched[id_of(trial)] = (beat, since)
            # A retried trial inherits its predecessor's last beat: count from its own start.
            started = trial.datetime_start.timestamp() if trial.datetime_start else beat
            if now - max(beat, started) > grace and watching - since > grace:
                stale.append(id_of(trial))
        self._watched[study_id] = watched  # forget trials that finished
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._stale_callback
