"""Seeded sections that leave the caller's global random state exactly as it was."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

CUDA = True  # False in forked probe workers, which must not initialise CUDA


@contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Seed Python, NumPy and torch (CPU and CUDA) inside the block; restore them afterwards.

    Yields a fresh CPU ``torch.Generator`` seeded with ``seed`` for data shuffling, so a
    probe's data order does not depend on how many random numbers the model factory drew.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    # Fork every CUDA device's generator too, so a probe that touches CUDA cannot change the
    # caller's CUDA random stream (this initialises CUDA on machines that have it).
    devices = (list(range(torch.cuda.device_count()))
               if CUDA and torch.cuda.is_available() else [])
    with torch.random.fork_rng(devices=devices):
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            generator = torch.Generator()
            generator.manual_seed(seed)
            yield generator
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
