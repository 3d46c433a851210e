"""The seam every loop goes through: one batch in, the loss and the output it came from out."""

from collections import namedtuple
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from triage.data import to_device
from triage.errors import TaskError
from triage.step import CustomStep, DefaultStep, failure, primary

X, Y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])


def test_an_xy_batch_trains_as_loss_of_model_of_x():
    model = nn.Linear(3, 2)
    loss, out = DefaultStep(F.cross_entropy)(model, (X, Y))
    assert torch.equal(out, model(X))
    assert torch.allclose(loss, F.cross_entropy(out, Y))


def test_a_tuple_output_gives_its_first_tensor_to_the_loss():
    class WithHidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x):
            return self.linear(x), torch.zeros(1)

    loss, out = DefaultStep(F.cross_entropy)(WithHidden(), (X, Y))
    assert isinstance(out, tuple) and torch.allclose(loss, F.cross_entropy(out[0], Y))


class CarriesItsLoss(nn.Module):  # the Hugging Face convention: labels in the batch
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, features, labels):
        logits = self.linear(features)
        return SimpleNamespace(loss=F.cross_entropy(logits, labels), logits=logits)


def test_a_dict_batch_goes_to_model_kwargs_and_its_output_carries_the_loss():
    loss, out = DefaultStep(F.mse_loss)(CarriesItsLoss(), {"features": X, "labels": Y})
    assert torch.allclose(loss, F.cross_entropy(out.logits, Y))
    assert primary(out) is out.logits
    with pytest.raises(TaskError, match="carries no loss"):
        DefaultStep(F.mse_loss)(_NoLoss(), {"features": X})


class _NoLoss(nn.Module):
    def forward(self, features):
        return features


@pytest.mark.parametrize("shape", ["tensor", "dict", "object"])
def test_a_custom_step_may_return_the_loss_a_dict_or_an_object(shape):
    def step(model, batch):
        loss = F.cross_entropy(model(batch[0]), batch[1])
        return {"tensor": loss, "dict": {"loss": loss},
                "object": SimpleNamespace(loss=loss)}[shape]

    loss, _ = CustomStep(step)(nn.Linear(3, 2), (X, Y))
    assert loss.ndim == 0 and loss.requires_grad
    with pytest.raises(TaskError, match=r"the step \(str\) carries no loss"):
        CustomStep(lambda model, batch: "done")(nn.Linear(3, 2), (X, Y))


def test_a_failure_names_the_part_and_keeps_the_exception():
    step = DefaultStep(F.cross_entropy)
    with pytest.raises(RuntimeError) as model_failed:
        step(nn.Linear(5, 2), (X, Y))
    assert failure(model_failed.value).part == "model"

    class Nothing(nn.Module):
        def forward(self, x):
            return None

    with pytest.raises(TypeError) as loss_failed:  # the original type: OOM stays OOM
        step(Nothing(), (X, Y))
    where = failure(loss_failed.value)
    assert where.part == "loss" and where.output is None
    with pytest.raises(ZeroDivisionError) as step_failed:
        CustomStep(lambda model, batch: 1 / 0)(nn.Linear(3, 2), (X, Y))
    assert failure(step_failed.value).part == "step"
    assert failure(ValueError("elsewhere")) is None


Pair = namedtuple("Pair", "left right")


@dataclass
class Example:
    ids: torch.Tensor
    label: int


class Encoding(dict):  # like Hugging Face's BatchEncoding: a mapping with its own .to()
    def to(self, device):
        self["moved"] = True
        return self


def test_to_device_reaches_every_tensor_inside_a_batch():
    t = torch.ones(2)
    batch = {"a": [t, (t, "text")], "pair": Pair(t, 3), "example": Example(t, 1), "n": 5}
    moved = to_device(batch, torch.device("meta"))
    assert moved["a"][0].is_meta and moved["a"][1][0].is_meta and moved["a"][1][1] == "text"
    assert isinstance(moved["pair"], Pair) and moved["pair"].left.is_meta
    assert isinstance(moved["example"], Example) and moved["example"].ids.is_meta
    assert moved["n"] == 5 and not t.is_meta  # the original is left alone
    assert to_device(Encoding(x=t), torch.device("cpu"))["moved"] is True
