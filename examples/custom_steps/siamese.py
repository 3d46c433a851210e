"""A siamese network with two inputs per sample, brought as ``((left, right), same)`` items.

A stand-in for pytorch/examples' siamese network: one encoder applied to two images, and a
head judging whether they show the same digit. The model takes the pair, so the simple form
(``loss=``) works: the batch's first part goes to the model, and its output and the targets to
the loss.

    triage lr-find examples/custom_steps/siamese.py:task
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

import triage


class Siamese(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32))
        self.head = nn.Linear(32, 1)

    def forward(self, pair: list[torch.Tensor]) -> torch.Tensor:
        left, right = (self.encoder(x) for x in pair)
        return self.head((left - right).abs()).squeeze(-1)


def pairs(n: int, seed: int) -> list[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """Half the pairs show the same digit, half a different one."""
    digits = load_digits()
    images = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target)
    generator = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        a = int(torch.randint(len(images), (), generator=generator))
        pool = (labels == labels[a]) if i % 2 == 0 else (labels != labels[a])
        candidates = pool.nonzero().squeeze(-1)
        b = int(candidates[torch.randint(len(candidates), (), generator=generator)])
        items.append(((images[a], images[b]), torch.tensor(float(labels[a] == labels[b]))))
    return items


def task() -> triage.Task:
    return triage.Task(model=Siamese, train=pairs(1200, 0), val=pairs(300, 1),
                       loss="bce_with_logits", name="siamese", epochs=4)
