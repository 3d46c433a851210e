"""torchrun's environment, read without importing torch (the command line reads it first).

``torchrun`` (torch.distributed.run) starts one process per rank with ``WORLD_SIZE``, ``RANK``
and ``LOCAL_RANK`` set; outside it they are unset and this process is the whole job.
"""

from __future__ import annotations

import os


def _number(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def launched() -> int:
    """The processes torchrun started for this job (1 outside torchrun)."""
    return max(_number("WORLD_SIZE", 1), 1)


def rank() -> int:
    """This process's rank in the job (0 outside torchrun)."""
    return _number("RANK", 0)


def local_rank() -> int:
    """This process's rank on its host: its GPU index (0 outside torchrun)."""
    return _number("LOCAL_RANK", 0)
