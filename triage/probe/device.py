"""Device selection and out-of-memory handling."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from triage.errors import SettingsError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SettingsError(
            f"device {name!r} asked for but CUDA is not available; use --device cpu")
    device = torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise SettingsError(
            f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA devices); "
            "use cuda:0 .. cuda:N-1"
        )
    return device


def on_cpu(name: str) -> bool:
    """Whether device ``name`` trains on the CPU (``auto`` without CUDA), without resolving
    (or validating) an explicit CUDA device."""
    return name == "cpu" or (name == "auto" and not torch.cuda.is_available())


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Train with ``threads`` intra-op CPU threads inside the block (None: as set), then
    restore the caller's setting."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_precision(precision: str, device_name: str) -> None:
    """The device can train in ``precision``: float16 with loss scaling needs CUDA, bfloat16 a
    CPU or a GPU that supports it.

    Raises:
        SettingsError: naming the precision, the device and what to use instead.
    """
    if precision == "32":
        return
    device = resolve_device(device_name)
    if precision == "16-mixed" and device.type != "cuda":
        raise SettingsError(f"precision 16-mixed (float16 with loss scaling) needs a CUDA "
                            f"device, not {device}; use --precision bf16 or 32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SettingsError(f"device {device} does not support bfloat16; use --precision "
                            "16-mixed or 32")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The autocast region one step runs in (none for float32)."""
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """Loss scaling for float16 (None otherwise): small gradients stay representable."""
    return torch.amp.GradScaler(device.type) if precision == "16-mixed" else None


def is_oom(exc: BaseException) -> bool:
    """True for an out-of-memory error on any accelerator."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def worker_device(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The device a sweep worker uses for ``name``.

    An explicit device is kept. For ``auto`` on a machine with CUDA: when the scheduler has
    narrowed ``CUDA_VISIBLE_DEVICES`` (SLURM's ``--gpus-per-task``, or a user's export) the
    worker uses the first visible GPU; otherwise, with several GPUs and a SLURM local task id
    (several tasks on one node sharing all GPUs), task ``i`` uses GPU ``i mod count``.
    """
    env = os.environ if environ is None else environ
    if name != "auto" or not torch.cuda.is_available():
        return name if name != "auto" else "cpu"
    count = torch.cuda.device_count()
    local = env.get("SLURM_LOCALID")
    if env.get("CUDA_VISIBLE_DEVICES") is None and local is not None and local.isdigit() \
            and count > 1:
        return f"cuda:{int(local) % count}"
    return "cuda:0"


def memory_signature(device: torch.device) -> str:
    """What bounds a run's memory on ``device``: the device kind and its capacity."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda:{props.name}:{props.total_memory}"
    return device.type
