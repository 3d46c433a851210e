"""The seam every loop goes through: one batch in, the loss and the output it came from out."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from triage.step import LossStep, failure


def test_a_loss_step_returns_the_loss_and_its_output():
    model = nn.Linear(3, 2)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    loss, out = LossStep(F.cross_entropy)(model, (x, y))
    assert torch.equal(out, model(x))
    assert torch.allclose(loss, F.cross_entropy(out, y))


def test_a_failure_names_the_part_and_keeps_the_exception():
    step = LossStep(F.cross_entropy)
    with pytest.raises(RuntimeError) as model_failed:
        step(nn.Linear(5, 2), (torch.randn(4, 3), torch.zeros(4, dtype=torch.long)))
    assert failure(model_failed.value).part == "model"

    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    with pytest.raises(TypeError) as loss_failed:  # the original type: OOM stays OOM
        step(Pair(), (torch.randn(4, 3), torch.zeros(4, dtype=torch.long)))
    where = failure(loss_failed.value)
    assert where.part == "loss" and isinstance(where.output, tuple)
    assert failure(ValueError("elsewhere")) is None
