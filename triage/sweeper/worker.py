"""The worker loop many processes run on one study: trials until the study holds its target,
then waiting for trials still running elsewhere (a dead worker's trial is failed by its stale
heartbeat, queued again and run by whoever waits)."""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from triage import interrupt, optuna_private
from triage.errors import ProbeError, TriageError
from triage.sweeper.budget import FINAL


def worker_id() -> str:
    """This worker process as trials name it: host and pid (read each time: a forked worker
    has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"
TrialCallback = Callable[[FrozenTrial], None]


class SurplusTrial(TriageError):
    """A worker got a trial beyond the study's target or its grid (workers asked for the last
    place at the same moment): it is failed, marked ``surplus`` and never counted."""


Room = Callable[[list[FrozenTrial]], bool]  # may another trial start, given the study's trials


def trials_room(target: int) -> Room:
    """Room while fewer than ``target`` counted trials have finished or are running."""
    def room(trials: list[FrozenTrial]) -> bool:
        finished, _, running = tally(trials)
        return finished + len(running) < target

    return room


def work(study: optuna.Study, objective: Callable[[optuna.Trial], float], room: Room,
         timeout: float | None = None, on_trial: TrialCallback | None = None) -> None:
    """Run trials while ``room`` says another may start (a queued trial runs then, first), or
    a trial owed to the study is queued (a dead or interrupted worker's trial queued again, a
    final-stage run); then wait for those running elsewhere: a dead worker's trial goes stale,
    is failed and queued again (Optuna's retry callback), and a waiting worker runs it. A
    trial interrupted here (Ctrl-C) is queued again before the interrupt propagates, so a rerun
    picks it up. A trial failed under this worker by another one (its heartbeat went stale
    while it ran) is reported through ``on_trial`` and the worker goes on: its retry runs
    elsewhere."""
    deadline = None if timeout is None else time.monotonic() + timeout
    callbacks = [] if on_trial is None else [
        lambda _study, trial: None if trial.user_attrs.get("surplus") else on_trial(trial)]
    guarded = _Guarded(objective)
    try:
        _loop(study, guarded, room, callbacks, on_trial, deadline)
    except KeyboardInterrupt:  # inside a trial or between two: queue the trial it stopped
        _requeue_interrupted(study)
        raise


def _loop(study: optuna.Study, guarded: _Guarded, room: Room,
          callbacks: list[Any], on_trial: TrialCallback | None, deadline: float | None) -> None:
    beat = optuna_private.heartbeat_interval(study)
    last_running: set[int] = set()
    idle_since = time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        interrupt.check()  # a Ctrl-C lost in a finaliser is raised here
        trials = study.get_trials(deepcopy=False)
        _, _, running = tally(trials)
        if room(trials) or any(_owed(t) for t in counted(trials)
                               if t.state == TrialState.WAITING):
            guarded.trial = guarded.raised = None
            try:
                study.optimize(guarded, n_trials=1, catch=(ProbeError, SurplusTrial),
                               callbacks=callbacks)
            except Exception as exc:
                taken = guarded.taken(study, exc)
                if taken is None:
                    raise
                if on_trial is not None:
                    on_trial(taken)
            continue
        if not running:
            return
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


def _owed(trial: FrozenTrial) -> bool:
    """A queued trial that runs whatever the room: a retry, or a final-stage run."""
    return bool(trial.system_attrs.get("retry_history")) or trial.user_attrs.get(
        "stage") == FINAL


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
    """Whether search trial ``number`` is one too many: ``target`` counted search trials come
    before it (final-stage runs are not search trials).

    Workers that see room for one more trial at the same moment each create one; numbers are
    handed out by the storage in order, so the later ones give theirs back."""
    return sum(t.number < number and t.user_attrs.get("stage") != FINAL
               for t in counted(trials)) >= target


def places(trials: list[FrozenTrial]) -> dict[int, int]:
    """Each trial's place in the sweep as if no trial had been interrupted or given back: a
    retry takes its original's place; surplus trials, retries and final-stage runs take none of
    their own (a trial's place counts the search trials before it that do). Seeds, samplers and
    pruning brackets follow places, so a resumed sweep (or one whose worker was killed)
    repeats an uninterrupted one."""
    out: dict[int, int] = {}
    taken = 0
    ordered = sorted(trials, key=lambda t: t.number)
    for trial in ordered:
        if not trial.system_attrs.get("retry_history"):
            out[trial.number] = taken
        taken += not (trial.user_attrs.get("surplus") or trial.system_attrs.get("retry_history")
                      or trial.user_attrs.get("stage") == FINAL)
    for trial in ordered:
        history = trial.system_attrs.get("retry_history")
        if history:
            out[trial.number] = out.get(history[0], trial.number)
    return out


def slot(trials: list[FrozenTrial], number: int) -> int:
    """Trial ``number``'s place (see ``places``)."""
    return places(trials)[number]


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
