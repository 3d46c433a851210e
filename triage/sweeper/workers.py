"""``sweep --workers N``: N local worker processes on one study.

Each worker is the same loop cluster workers run (``triage.sweeper.worker.work``) on the same
storage: the study hands out trials, so nothing is split by hand and a worker that dies leaves
its trial to the heartbeat retry. The first worker runs in this process (its trials drive the
progress display, and its summary, taken when the study holds every trial, is the output); the
others are forked with the loaded task when each trains on the CPU with one thread, else
spawned processes that rebuild the task from the same command-line inputs. CPU
threads are divided among the workers so that the cores are not oversubscribed, and with
``--device auto`` each worker takes its own GPU when several are visible. Ctrl-C stops them all:
each queues its running trial again before it exits.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from triage.errors import TriageError
from triage.sweeper.budget import Budget
from triage.sweeper.settings import SweepSettings
from triage.sweeper.space import LRPrior
from triage.sweeper.summary import SweepSummary
from triage.sweeper.worker import TrialCallback
from triage.validate import check_positive_int

if TYPE_CHECKING:
    from triage.task import Task

STOP_SECONDS = 30.0  # how long stopped workers get to queue their trials again


class WorkerFailed(TriageError):
    """A worker process exited with an error."""


@dataclass(frozen=True)
class Job:
    """What a worker process needs to rebuild the sweep (picklable: names, not objects).

    Attributes:
        task: the TASK argument (None: the bundled example).
        table: ``(target, kind, no_preprocess)`` for table tasks.
        space: the search space's file or bundled name.
        settings: the sweep's settings.
        prior: the lr-find prior, if any.
        storage: the shared storage URL or journal path.
        study_name: the study, if named.
    """

    task: str | None
    table: tuple[str | None, str | None, bool]
    space: str
    settings: SweepSettings
    prior: LRPrior | None
    storage: str
    study_name: str | None


def run_workers(job: Job, workers: int, task: Task | None = None,
                on_trial: TrialCallback | None = None,
                on_budget: Callable[[Budget], None] | None = None) -> SweepSummary:
    """Run ``job`` with ``workers`` local workers; return the study's summary once it holds
    every trial. ``task``: the job's task if this process has loaded it already (the spawned
    workers load their own).

    Raises:
        SettingsError: ``workers`` is not a positive integer.
        WorkerFailed: a spawned worker exited with an error (its message is on stderr).
        KeyboardInterrupt: after every worker queued its running trial again.
    """
    check_positive_int("workers", workers)
    threads = max(1, (os.cpu_count() or 1) // workers)
    devices = worker_devices(job.settings.device, workers)
    from triage.probe.device import on_cpu

    # A forked worker starts at once with the task this process loaded (no imports, no
    # loading again); it must train with one thread (OpenMP with more hangs in a forked
    # child) and on the CPU (CUDA cannot be forked). Otherwise workers are spawned.
    fork = task is not None and threads == 1 and all(on_cpu(d) for d in devices)
    context = multiprocessing.get_context("fork" if fork else "spawn")
    inherited = task if fork else None
    others = [context.Process(target=_child, args=(job, i, devices[i], threads, inherited),
                              name=f"triage-sweep-worker-{i}") for i in range(1, workers)]
    for process in others:
        process.start()
    try:
        summary = _work(job, devices[0], threads, on_trial, task, on_budget)
        for process in others:
            process.join()
    except BaseException:  # Ctrl-C may come while this worker waits for the others, too
        _stop(others)
        raise
    failed = [p.name for p in others if p.exitcode not in (0, None)]
    if failed:
        raise WorkerFailed(f"{', '.join(failed)} exited with an error (see above); the study "
                           "keeps every finished trial: rerun the same command to finish it")
    return summary


def worker_devices(device: str, workers: int) -> list[str]:
    """Each worker's device: with ``auto`` and GPUs visible, worker i takes GPU i (modulo
    their number); otherwise all take ``device``."""
    if device == "auto":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count > 1:
            return [f"cuda:{i % count}" for i in range(workers)]
    return [device] * workers


def _work(job: Job, device: str, threads: int, on_trial: TrialCallback | None,
          task: Task | None = None,
          on_budget: Callable[[Budget], None] | None = None) -> SweepSummary:
    import torch

    from triage.loading import TableOptions, load_task
    from triage.sweeper.run import sweep
    from triage.sweeper.space_file import load_space

    torch.set_num_threads(threads)
    if task is None:
        target, kind, no_preprocess = job.table
        task = load_task(job.task, TableOptions(target, kind, not no_preprocess,
                                                job.settings.seed))
    settings = dataclasses.replace(job.settings, device=device)
    return sweep(task, load_space(job.space), settings, prior=job.prior, storage=job.storage,
                 study_name=job.study_name, on_trial=on_trial, on_budget=on_budget)


def _child(job: Job, index: int, device: str, threads: int, task: Task | None = None) -> None:
    """A worker process: one line on stderr for a TriageError (exit 2), quiet on Ctrl-C.
    ``task``: the parent's, when forked (spawned workers load their own)."""
    from triage.storage import quiet_optuna

    quiet_optuna(logging.ERROR)  # as the command's own worker: no per-trial lines
    try:
        _work(job, device, threads, None, task)
    except KeyboardInterrupt:
        sys.exit(130)  # its trial is queued again (work); the parent reports the interrupt
    except TriageError as exc:
        print(f"worker {index}: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _stop(processes: list[Any]) -> None:
    """Interrupt the workers still running (as Ctrl-C would), wait for them to queue their
    trials again, and end any that do not stop in ``STOP_SECONDS``."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGINT)
    for process in processes:
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join()
