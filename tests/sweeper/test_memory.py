"""A long sweep holds no more memory after trial 20 than after trial 2: every trial's model,
optimizer and data copies are released (users of other tools run out of GPU memory after a
few in-process trials)."""

import gc
import os

import torch

from triage.sweeper import SweepSettings, load_space, sweep

import tasks

DEVICE = os.environ.get("TRIAGE_TEST_DEVICE", "cpu")  # cuda on a GPU machine


def test_memory_held_between_trials_does_not_grow():
    held: list[tuple[int, int]] = []

    def measure(_trial):
        gc.collect()
        tensors = sum(1 for o in gc.get_objects() if torch.is_tensor(o))
        gpu = torch.cuda.memory_allocated() if DEVICE.startswith("cuda") else 0
        held.append((tensors, gpu))

    sweep(tasks.blobs(), load_space("default"),
          SweepSettings(budget=None, trials=20, device=DEVICE), storage=None, on_trial=measure)
    assert len(held) == 20
    assert held[19][0] <= held[1][0], held  # live tensor objects in this process
    assert held[19][1] <= held[1][1], held  # bytes the CUDA allocator hands out
