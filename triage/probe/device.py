"""Device selection and out-of-memory handling."""

from __future__ import annotations

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


def is_oom(exc: BaseException) -> bool:
    """True for an out-of-memory error on any accelerator."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
