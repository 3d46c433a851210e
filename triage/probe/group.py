"""The torchrun job this process is one rank of: its process group and rank 0's messages.

Under ``torchrun --nproc-per-node N triage CMD ...`` every rank runs the same command line.
Rank 0 runs the command; the others (followers) never do: they load each task rank 0
announces and train their share of every data-parallel probe rank 0 asks for, until rank 0
says stop (``triage.probe.follower``). So only rank 0 prints, writes, and talks to the Optuna
study, and a command needs no rank logic of its own: it calls ``run_probe`` as always.

The messages are Python objects broadcast from rank 0 (``broadcast_object_list``); between
two of them the ranks meet only inside a probe, in the same collectives in the same order.
The group is torch's own: ``init_process_group`` with torchrun's environment (``env://``).
"""

from __future__ import annotations

import datetime
import gc
import signal
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from triage import interrupt
from triage.errors import RankLost, SettingsError
from triage.torchrun import local_rank

BACKENDS = ("auto", "gloo", "nccl")
# Followers wait on rank 0 while it trains a one-worker probe alone or validates: a peer that
# dies is seen at once (its connection closes), so this only bounds a rank 0 that hangs.
TIMEOUT = datetime.timedelta(hours=12)


@dataclass
class Job:
    """This process's place in the torchrun job.

    Attributes:
        rank: its rank (0 runs the command).
        size: the ranks in the job.
        local_rank: its rank on this host (its GPU index).
        tasks: the tasks rank 0 announced, in order (a probe names one by index).
        probing: a data-parallel probe is under way (the ranks are inside its collectives).
        lost: why the job lost a rank, once it has.
    """

    rank: int
    size: int
    local_rank: int
    tasks: list[Any] = field(default_factory=list)
    probing: bool = False
    lost: str | None = None
    unused: dict[int, bool] = field(default_factory=dict)  # per task: a step leaves some out

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def broadcast(self, message: object = None) -> Any:
        """Rank 0's ``message``, on every rank (rank 0 sends it, the others receive it)."""
        import torch.distributed as dist

        box = [message if self.leader else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def announce(self, spec: str | None, options: object, task: object) -> None:
        """Rank 0 loaded ``task`` from ``spec`` and ``options``: the followers load it too."""
        self.broadcast(("load", spec, options))
        self.tasks.append(task)

    def index(self, task: object) -> int | None:
        """The announced index of ``task`` (None: the followers do not have it)."""
        return next((i for i, known in enumerate(self.tasks) if known is task), None)

    def device(self, device: Any) -> Any:
        """Where this rank trains a probe that asks for ``device``: its own GPU for CUDA."""
        import torch

        if device.type != "cuda":
            return device
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)


_job: Job | None = None


def current() -> Job | None:
    """The job this process is a rank of, once ``start`` ran (None outside torchrun)."""
    return _job


def check_backend(backend: str) -> str:
    """``backend`` if torch can run it here, else one line naming the fix."""
    if backend not in BACKENDS:
        raise SettingsError(f"--dist-backend must be one of {', '.join(BACKENDS)}, "
                            f"got {backend!r}")
    if backend == "nccl":
        import torch

        if not torch.cuda.is_available():
            raise SettingsError("--dist-backend nccl runs on CUDA GPUs, and torch sees none "
                                "here; use --dist-backend gloo (or auto) on CPUs")
    return backend


def start(backend: str = "auto") -> Job:
    """Join torchrun's process group (``auto``: NCCL for CUDA tensors where there are GPUs,
    gloo for the rest) and remember the job. Rank 0 turns torchrun's SIGTERM (sent when
    another rank failed, or the job was cancelled) into an interrupt, so that the study is
    left resumable and one line says why."""
    global _job
    import torch.distributed as dist

    check_backend(backend)
    dist.init_process_group(None if backend == "auto" else backend, timeout=TIMEOUT)
    _job = Job(dist.get_rank(), dist.get_world_size(), local_rank())
    if _job.leader:
        signal.signal(signal.SIGTERM, _terminated)
    return _job


def finish() -> None:
    """Rank 0's end of the command: release the followers (unless a probe broke off between
    collectives: they are stopped by the closed connection instead) and leave the group."""
    global _job
    import torch.distributed as dist

    job, _job = _job, None
    if job is None:
        return
    if job.leader:  # the command is over: torchrun's SIGTERM now only cuts the exit short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if job.leader and not job.probing and job.lost is None:
        job.broadcast(("stop",))
    gc.collect()  # the last probe's DDP module, before the group it holds goes
    dist.destroy_process_group()


def lost(job: Job, exc: BaseException) -> RankLost:
    """The error rank 0 raises when a collective failed: another rank is gone."""
    job.lost = job.lost or (f"{type(exc).__name__} in a collective: its connection to "
                            "another rank closed, so that rank crashed or was killed")
    return RankLost(lost_message(job))


def lost_message(job: Job) -> str:
    """One line: the job lost a rank, and how to resume."""
    return (f"a rank of this {job.size}-process torchrun job stopped mid-command ({job.lost}); "
            "the study keeps every finished probe: rerun the same command (with --storage) to "
            "resume")


def _terminated(signum: int, frame: FrameType | None) -> None:
    if _job is not None:
        _job.lost = _job.lost or "torchrun stopped rank 0 (SIGTERM): another rank failed"
    interrupt.handler(signum, frame)
