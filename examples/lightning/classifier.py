"""A LightningModule with a LightningDataModule, brought to triage with ``from_lightning``.

A stand-in for the usual Lightning project: a classifier on scikit-learn's digits whose
``training_step`` and ``validation_step`` log their losses, a DataModule that splits and
normalises the data, and ``configure_optimizers`` choosing Adam. triage probes with its own
optimizer and says so; its recommendation replaces Adam at lr 0.02.

    triage lr-find examples/lightning/classifier.py:task
    triage doctor examples/lightning/classifier.py:task
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import triage


class DigitsClassifier(L.LightningModule):
    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(dim=-1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.02)


class DigitsData(L.LightningDataModule):
    def __init__(self, batch_size: int = 64) -> None:
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage: str | None = None) -> None:
        X, y = load_digits(return_X_y=True)
        X = torch.tensor(X / 16.0, dtype=torch.float32)
        X = (X - X.mean(0)) / (X.std(0) + 1e-6)
        y = torch.tensor(y)
        generator = torch.Generator().manual_seed(0)
        order = torch.randperm(len(X), generator=generator)
        train, val = order[:1400], order[1400:]
        self.train_set = TensorDataset(X[train], y[train])
        self.val_set = TensorDataset(X[val], y[val])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=256)


def task() -> triage.Task:
    return triage.from_lightning(DigitsClassifier, datamodule=DigitsData(), epochs=5)
