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
grace period (30 s) frees it; afterwards every live trial looks silent until its held beat (and
a fresh one) lands. So a worker judges a trial stale only when (1) its last beat is older than the
grace period, (2) this worker has itself watched that beat stay unchanged for the grace period,
and (3) a write of its own went through promptly just before judging; any write of its own
that was held up (a beat, the probe, creating a trial) suspends judgement until every worker
has had time to beat again.
"""

from __future__ import annotations

import time

from optuna.storages.journal import BaseJournalBackend

from triage.optuna_private import TimedHeartbeatJournal
from triage.storage.heartbeat import AttrHeartbeat, StaleCallback


class HeartbeatJournalStorage(AttrHeartbeat, TimedHeartbeatJournal):
    """A ``JournalStorage`` whose running trials send heartbeats (see ``AttrHeartbeat``).

    Args:
        backend: the journal backend (``JournalFileBackend`` or ``JournalRedisBackend``).
        heartbeat_interval, grace_period, heartbeat_stale_trial_callback: see
            ``AttrHeartbeat.setup_heartbeat``.
    """

    def __init__(
        self,
        backend: BaseJournalBackend,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        heartbeat_stale_trial_callback: StaleCallback | None = None,
    ) -> None:
        super().__init__(backend)
        self.setup_heartbeat(heartbeat_interval, grace_period, heartbeat_stale_trial_callback)

    def wrote(self, seconds: float) -> None:
        # Every write is timed (under the storage's thread lock, so a held-up beat holds this
        # worker's other reads and writes too).
        end = time.monotonic()
        if self._heartbeat_interval and seconds > self._grace() - self._heartbeat_interval:
            # A write held up that long may have held beats elsewhere too. Held-up beats land
            # within about one interval after the hold ends, and fresh ones follow one
            # interval later; twice the grace period covers both.
            self.suspend_judgement(end + 2 * self._grace())
