"""A rank's DDP step in one process (a group of one): what the torchrun tests cannot see."""

import gc
import weakref

import pytest
import torch
import torch.distributed as dist
from torch import nn

from triage.probe.ddp import Shard
from triage.probe.group import Job

import tasks


@pytest.fixture
def group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    yield Job(0, 1, 0)
    dist.destroy_process_group()


def test_a_finished_probes_ddp_module_is_freed(group):
    """The communication hook's state must not lead back to the module: a cycle through DDP's
    C++ reducer is invisible to the collector, and the module (with its process group) lived
    until the interpreter's exit, where gloo's threads aborted the process."""
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    shard = Shard(group, tasks.blobs().prepare(), model, torch.device("cpu"))
    module = weakref.ref(shard.module)
    del shard, model
    gc.collect()
    assert module() is None


def test_one_rank_trains_the_whole_batch_and_reads_its_own_gradient(group):
    prepared = tasks.blobs().prepare()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    shard = Shard(group, prepared, model, torch.device("cpu"))
    batch = tuple(torch.as_tensor(v[:8]) for v in tasks.blobs().train)
    loss, own = shard.backward(batch, torch.autocast("cpu", enabled=False), lambda x: x, True)
    expected = nn.functional.cross_entropy(model(batch[0]), batch[1])
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    squares = sum(float(p.grad.pow(2).sum()) for p in model.parameters())
    assert own == pytest.approx(squares, rel=1e-6)  # one rank: its gradient is the average
