"""The data fixes doctor tries: inputs and targets standardised with the training split's
statistics, and the validation loss read back in the user's units."""

import pytest
import torch
import torch.nn.functional as F

from triage.data import TensorData
from triage.doctor.rewrites import REWRITES, standardise_inputs, standardise_targets
from triage.losses import KINDS
from triage.task import PreparedTask

import tasks


def prepared(X, y, Xv=None, yv=None):
    base = tasks.blobs().prepare()
    return PreparedTask(base.task, TensorData(X, y),
                        TensorData(X if Xv is None else Xv, y if yv is None else yv),
                        base.step, None)


@pytest.mark.parametrize("shape, axes", [((200, 3), (0,)), ((200, 2, 5, 5), (0, 2, 3)),
                                         ((200, 7, 4), (0, 1))])
def test_inputs_get_zero_mean_unit_std_per_feature_channel_or_step_feature(shape, axes):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(shape, generator=g) * 50 + 300
    out = standardise_inputs(prepared(X, torch.zeros(200)), None)
    Z = out.prepared.train.X
    assert torch.allclose(Z.mean(dim=axes), torch.zeros(()), atol=1e-3)
    assert torch.allclose(Z.std(dim=axes), torch.ones(()), atol=1e-2)
    assert out.scale == 1.0


def test_validation_is_rewritten_with_the_training_statistics_and_constants_are_centred():
    X = torch.tensor([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    Xv = torch.tensor([[2.0, 5.0]])
    out = standardise_inputs(prepared(X, torch.zeros(3), Xv, torch.zeros(1)), None)
    assert out.prepared.val.X.tolist() == [[0.0, 0.0]]  # train mean 2, constant column 5
    assert out.prepared.train.X[:, 1].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("kind, loss, power", [("mse", F.mse_loss, 2), ("l1", F.l1_loss, 1)])
def test_the_loss_on_standardised_targets_scales_back_to_the_users_units(kind, loss, power):
    g = torch.Generator().manual_seed(1)
    y = torch.randn(50, 2, generator=g) * 40 + 1000
    out = standardise_targets(prepared(torch.zeros(50, 1), y), KINDS[kind])
    z = out.prepared.train.y
    mean, std = y.mean(dim=0, keepdim=True), out.scale ** (1 / power)
    prediction = torch.randn(50, 2, generator=g)  # any model's output on the standard scale
    assert float(loss(prediction * std + mean, y)) == pytest.approx(
        out.scale * float(loss(prediction, z)), rel=1e-4)


@pytest.mark.parametrize("kind", [None, "cross_entropy", "bce"])
def test_targets_are_not_rewritten_where_the_loss_scale_is_unknown(kind):
    data = prepared(torch.zeros(10, 1), torch.rand(10, 1))
    assert standardise_targets(data, KINDS.get(kind or "")) is None


def test_integer_inputs_are_ids_and_left_alone():
    data = prepared(torch.arange(10).reshape(5, 2), torch.zeros(5))
    assert standardise_inputs(data, None) is None
    assert set(REWRITES) == {"inputs", "targets"}
