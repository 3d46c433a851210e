"""What the ranks other than 0 of a torchrun job do: rank 0's probes, nothing else.

A follower never runs the command it was started with. It loads each task rank 0 announces
(the same loader, the same arguments, so the same data and the same hold-out) and trains its
share of each data-parallel probe rank 0 asks for, with rank 0's settings, until rank 0 says
stop. It holds no study, prints nothing and writes nothing.
"""

from __future__ import annotations

from triage.errors import TriageError
from triage.probe.group import Job


def serve(job: Job) -> None:
    """Follow rank 0 until it says stop.

    Raises:
        TriageError: rank 0 asked for a probe of a task this rank could not load.
    """
    from triage.loading import load_task
    from triage.probe.runner import follow

    while True:
        message = job.broadcast()
        kind = message[0]
        if kind == "stop":
            return
        if kind == "load":
            _, spec, options = message
            try:
                job.tasks.append(load_task(spec, options))
            except TriageError as exc:  # rank 0 loaded it: the error is this host's
                job.tasks.append(exc)
        elif kind == "probe":
            _, index, seed, settings, epochs, explosions = message
            task = job.tasks[index]
            if isinstance(task, TriageError):
                raise task
            follow(job, task.prepare(seed), settings, epochs, explosions)
        else:
            raise TriageError(f"internal: rank 0 sent an unknown message {kind!r}")
