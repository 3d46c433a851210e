import pytest
import torch
import torch.nn.functional as F
from torch import nn

from triage.losses import identify

OUT = torch.randn(16, 5)
INDEX = torch.randint(0, 5, (16,))
ONEHOT = torch.eye(5)[INDEX]


@pytest.mark.parametrize("loss, y, expected", [
    ("mse", ONEHOT, "mse"),
    (nn.CrossEntropyLoss(), INDEX, "cross_entropy"),
    (nn.NLLLoss(), INDEX, "nll"),
    (nn.BCEWithLogitsLoss(), ONEHOT, "bce_with_logits"),
    (F.cross_entropy, INDEX, "cross_entropy"),
    (F.mse_loss, ONEHOT, "mse"),
    # Keras ports, recognised by behaviour:
    (lambda o, y: F.cross_entropy(o, y.argmax(1)), ONEHOT, "cross_entropy"),
    (lambda o, y: F.cross_entropy(o, y, reduction="sum"), INDEX, "cross_entropy"),
    (lambda p, y: -(y * torch.log(p)).sum(1).mean(), ONEHOT, "probs_ce"),
    (lambda o, y: ((o - y) ** 2).sum(), ONEHOT, "mse"),
    (lambda o, y: F.binary_cross_entropy(torch.sigmoid(o), y), ONEHOT, "bce_with_logits"),
    (lambda o, y: (o.abs() * 3).mean() + 1, ONEHOT, None),  # unknown: never judged
    (lambda o, y: 1 / 0, INDEX, None),  # a loss that raises is unknown, not a crash
])
def test_identify(loss, y, expected):
    kind = identify(loss, OUT, y)
    assert (kind.name if kind else None) == expected
