"""The worker loop many processes run on one study: trials until the study holds its target,
then waiting for trials still running elsewhere (a dead worker's trial is failed by its stale
heartbeat, queued again and run by whoever waits)."""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage import interrupt, optuna_private
from triage.errors import ProbeError, TriageError


def worker_id() -> str:
    """This worker process as trials name it: host and pid (read each time: a forked worker
    has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"
TrialCallback = Callable[[FrozenTrial], None]


class SurplusTrial(TriageError):
    """A worker got a trial beyond the study's target or its grid (workers asked for the last
    place at the same moment): it is failed, marked ``surplus`` and never counted."""


def work(study: optuna.Study, objective: Callable[[optuna.Trial], float], trials: int,
         timeout: float | None = None, on_trial: TrialCallback | None = None) -> None:
    """Run trials until the study holds ``trials`` finished or pending ones, then wait for
    those running elsewhere: a dead worker's trial goes stale, is failed and queued again
    (Optuna's retry callback), and a waiting worker runs it. A trial interrupted here (Ctrl-C)
    is queued again before the interrupt propagates, so a rerun picks it up. A trial failed
    under this worker by another one (its heartbeat went stale while it ran) is reported
    through ``on_trial`` and the worker goes on: its retry runs elsewhere."""
    deadline = None if timeout is None else time.monotonic() + timeout
    callbacks = [] if on_trial is None else [
        lambda _study, trial: None if trial.user_attrs.get("surplus") else on_trial(trial)]
    guarded = _Guarded(objective)
    beat = optuna_private.heartbeat_interval(study)
    last_running: set[int] = set()
    idle_since = time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        interrupt.check()  # a Ctrl-C lost in a finaliser is raised here
        finished, waiting, running = tally(study.get_trials(deepcopy=False))
        if finished >= trials and not waiting:
            return
        if waiting or finished + len(running) < trials:
            guarded.trial = guarded.raised = None
            try:
                study.optimize(guarded, n_trials=1, catch=(ProbeError, SurplusTrial),
                               callbacks=callbacks)
            except KeyboardInterrupt:
                _requeue_interrupted(study)
                raise
            except Exception as exc:
                taken = guarded.taken(study, exc)
                if taken is None:
                    raise
                if on_trial is not None:
                    on_trial(taken)
            continue
        if beat is None:  # nobody can tell a dead worker from a slow one: do not wait forever
            return
        # study.optimize fails stale trials before each trial; a waiting worker does it here,
        # so a dead worker's trial is failed and queued again for the next pass.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        if running != last_running:
            last_running, idle_since = running, time.monotonic()
        elif time.monotonic() - idle_since > 6 * beat:  # they never recorded a heartbeat
            return
        time.sleep(min(beat, 2.0))


class _Guarded:
    """The objective, remembering its trial and what it raised, so that an error Optuna raises
    after the objective (telling a trial that someone else failed) can be told from its own."""

    def __init__(self, objective: Callable[[optuna.Trial], float]) -> None:
        self.objective = objective
        self.trial: optuna.Trial | None = None
        self.raised: BaseException | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        self.trial = trial
        try:
            return self.objective(trial)
        except BaseException as exc:
            self.raised = exc
            raise

    def taken(self, study: optuna.Study, exc: Exception) -> FrozenTrial | None:
        """The trial, if ``exc`` came from Optuna finding it already failed by another worker
        (Optuna raises "Cannot tell a FAIL trial" or fails an internal assertion then)."""
        if self.trial is None or exc is self.raised:
            return None
        mine = optuna_private.stored_trial(study, self.trial)
        return mine if mine.state == TrialState.FAIL else None


def counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials a study's target counts: all but the failed ones that were queued again
    (stale or interrupted) and the surplus ones."""
    retried = _retried(trials)
    return [t for t in trials if t.state != TrialState.FAIL
            or (t.number not in retried and not t.user_attrs.get("surplus"))]


def tally(trials: list[FrozenTrial]) -> tuple[int, int, set[int]]:
    """(finished, waiting, numbers running), over the counted trials."""
    finished = waiting = 0
    running = set()
    for t in counted(trials):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
            finished += 1
        elif t.state == TrialState.WAITING:
            waiting += 1
        else:
            running.add(t.number)
    return finished, waiting, running


def surplus(trials: list[FrozenTrial], number: int, target: int) -> bool:
    """Whether trial ``number`` is one too many: ``target`` counted trials come before it.

    Workers that see room for one more trial at the same moment each create one; numbers are
    handed out by the storage in order, so the later ones give theirs back."""
    return sum(t.number < number for t in counted(trials)) >= target


def _retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the failed trials that a later trial retries (Optuna's retry history)."""
    return {t.system_attrs["retry_history"][-1] for t in trials
            if t.system_attrs.get("retry_history")}


def _requeue_interrupted(study: optuna.Study) -> None:
    """Queue the trial this worker was running when interrupted again, with its parameters."""
    mine = [t for t in counted(study.get_trials(deepcopy=False)) if t.state == TrialState.FAIL
            and t.user_attrs.get("worker") == worker_id() and "error" not in t.user_attrs]
    if mine:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.RetryHeartbeatStaleTrialCallback()(study, mine[-1])
