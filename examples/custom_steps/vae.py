"""A variational autoencoder brought with its own training step (``Task(step=...)``).

A stand-in for pytorch/examples' VAE: the loss is on the input (reconstruction plus KL
divergence), the model returns a tuple, and there are no targets. Items are single images
(scikit-learn's digits, scaled to [0, 1]); the step is what the training loop would compute.

    triage lr-find examples/custom_steps/vae.py:task --optimizer adam
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

import triage


class VAE(nn.Module):
    def __init__(self, latent: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        return self.decoder(z), mean, log_var


def step(model: VAE, images: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy reconstruction plus KL divergence, per image."""
    logits, mean, log_var = model(images)
    reconstruction = F.binary_cross_entropy_with_logits(logits, images, reduction="sum")
    kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    return (reconstruction + kl) / len(images)


def task() -> triage.Task:
    images = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)
    return triage.Task(model=VAE, train=list(images[:1500]), val=list(images[1500:]),
                       step=step, name="vae", epochs=5)
