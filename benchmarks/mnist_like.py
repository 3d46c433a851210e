"""A ~1.2M-parameter CNN on 8,000 MNIST-sized images, without a download.

The model is pytorch/examples' MNIST ``Net`` (two convolutions, dropout, a 9216-128-10 head).
The images are scikit-learn's 8x8 digits scaled up to 28x28, each placed at a random shift with
pixel noise, so that 8,000 distinct images of 10 classes exist offline. Used by
``benchmarks/parallel_probes.py`` as the task whose probes take over a minute on two cores.

    triage lr-find benchmarks/mnist_like.py:task
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from triage import Task

N_TRAIN, N_VAL = 8000, 1000


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = torch.flatten(self.dropout1(x), 1)
        return self.fc2(self.dropout2(F.relu(self.fc1(x))))


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits.target), n)
    small = torch.tensor(digits.images[pick] / 16.0, dtype=torch.float32).unsqueeze(1)
    big = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    out = np.zeros((n, 1, 28, 28), dtype=np.float32)
    shifts = rng.integers(0, 9, size=(n, 2))
    for i, (dy, dx) in enumerate(shifts):
        out[i, :, dy:dy + 20, dx:dx + 20] = big[i].numpy()
    out += rng.normal(0, 0.1, out.shape).astype(np.float32)
    out = (out - 0.1307) / 0.3081  # the MNIST example's normalisation
    return out.astype(np.float32), digits.target[pick].astype(np.int64)


def task() -> Task:
    return Task(model=Net, train=images(N_TRAIN, 0), val=images(N_VAL, 1),
                loss="cross_entropy", name="mnist_like_cnn", epochs=1)
