"""Probes at once on CPU cores: forked worker processes, each running whole probes.

The workers are forked, not spawned: they inherit the prepared task as it is in memory, so a
task built from lambdas, closures or an open dataset needs no pickling and no reloading. Each
worker trains with one torch thread, as DataLoader workers do: OpenMP with more threads hangs
in a forked child whose parent had started OpenMP's threads. Workers ignore Ctrl-C (the parent
stops them) and train only on the CPU: CUDA cannot be used in a forked child.

Only settings go out and results come back, so the study, the progress display and every
decision stay in the parent process.
"""

from __future__ import annotations

import abc
import multiprocessing
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Self

from triage.errors import ProbeError, SettingsError, TriageError
from triage.probe.device import resolve_device
from triage.probe.result import ProbeResult
from triage.probe.settings import ProbeSettings
from triage.task import PreparedTask
from triage.validate import check_positive_int

_prepared: PreparedTask | None = None  # the task a worker forked with


class Pool(abc.ABC):
    """Trains probes of one prepared task at once: ``submit`` settings for a ticket, then
    ``result(ticket)``; a context manager whose exit stops whatever still runs.

    Args:
        prepared: the task every probe trains on.
        size: probes trained at once.
    """

    def __init__(self, prepared: PreparedTask, size: int) -> None:
        check_positive_int("workers", size)
        self.prepared, self.size = prepared, size
        self._next = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ticket(self) -> int:
        ticket, self._next = self._next, self._next + 1
        return ticket

    @property
    @abc.abstractmethod
    def busy(self) -> int:
        """Probes submitted whose results were not taken yet."""

    @abc.abstractmethod
    def submit(self, settings: ProbeSettings) -> int:
        """Queue one probe; returns its ticket for ``result``."""

    @abc.abstractmethod
    def result(self, ticket: int) -> ProbeResult:
        """Wait for a probe and return its result (a training error is raised here)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop: probes still queued or running are abandoned."""


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    job: int | None = None  # the ticket it is running


class ProbePool(Pool):
    """``workers`` forked processes that run probes of one prepared task.

    Use as a context manager; leaving it (normally, on an error or on Ctrl-C) stops every
    worker, finished or not.

    Args:
        prepared: the task every probe trains on.
        workers: processes (>= 1), one torch thread each.
    """

    def __init__(self, prepared: PreparedTask, workers: int) -> None:
        super().__init__(prepared, workers)
        self._workers: list[_Worker] = []
        self._queue: list[tuple[int, ProbeSettings]] = []
        self._done: dict[int, ProbeResult | BaseException] = {}

    @property
    def busy(self) -> int:
        return len(self._queue) + sum(w.job is not None for w in self._workers)

    def submit(self, settings: ProbeSettings) -> int:
        if resolve_device(settings.device).type != "cpu":
            raise SettingsError(f"probes in worker processes run on the CPU, not on "
                                f"{settings.device!r}; use --device cpu or --parallel 1")
        ticket = self._ticket()
        self._queue.append((ticket, settings))
        self._dispatch()
        return ticket

    def result(self, ticket: int) -> ProbeResult:
        while ticket not in self._done:
            self._receive()
        outcome = self._done.pop(ticket)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:  # kills every worker, busy or not
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in self._workers:
            worker.process.join()
            worker.conn.close()
        self._workers.clear()
        self._queue.clear()

    def _dispatch(self) -> None:
        while self._queue:
            idle = next((w for w in self._workers if w.job is None), None)
            if idle is None and len(self._workers) < self.size:
                idle = self._start()
            if idle is None:
                return
            ticket, settings = self._queue.pop(0)
            idle.job = ticket
            idle.conn.send(settings)

    def _start(self) -> _Worker:
        global _prepared
        _prepared = self.prepared
        # torch imports torch._dynamo when the first optimizer is built (~0.8 s): do it once
        # here, where a sequential run pays it too, so that no worker pays it again.
        import torch._dynamo  # noqa: F401
        ours, theirs = multiprocessing.Pipe()
        process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(theirs,), daemon=True,
            name=f"triage-probe-{len(self._workers)}")
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def _receive(self) -> None:
        running = {w.conn: w for w in self._workers if w.job is not None}
        if not running:
            raise ProbeError("internal: waiting for a probe that was never started")
        for conn in wait(list(running)):
            worker = running[conn]
            assert worker.job is not None
            try:
                outcome = conn.recv()
            except (EOFError, OSError):
                worker.process.join(timeout=5)
                outcome = ProbeError(
                    f"a probe worker process died (exit code {worker.process.exitcode}) "
                    "while training; rerun with --parallel 1 to see the error in this process")
                self._workers.remove(worker)
            self._done[worker.job] = outcome
            worker.job = None
        self._dispatch()


def _serve(conn: Connection) -> None:
    """A worker's loop: receive settings, train, send the result (or the error) back."""
    import torch

    from triage import rng
    from triage.probe.runner import run_probe

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    rng.CUDA = False  # a forked child must not touch CUDA
    assert _prepared is not None
    for settings in _requests(conn):
        try:
            outcome: Any = run_probe(_prepared, settings)
        except TriageError as exc:
            outcome = exc if _picklable(exc) else ProbeError(str(exc))
        except Exception as exc:  # never lose a worker silently
            outcome = ProbeError(f"training raised {type(exc).__name__} in a probe worker: "
                                 f"{exc}; rerun with --parallel 1 --debug")
        conn.send(outcome)


def _requests(conn: Connection) -> Iterator[ProbeSettings]:
    while True:
        try:
            yield conn.recv()
        except EOFError:
            return


def _picklable(exc: BaseException) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True
