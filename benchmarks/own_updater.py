"""The user's own updater: pytorch/examples' time-sequence LSTM, trained by its authors with LBFGS.

The authors train two stacked ``LSTMCell``s (51 units) and a linear head, in float64, on 97
sine waves (full batch, 15 LBFGS steps at lr 0.8) and score the 3 held-out waves by MSE.
Every row below trains that model for that budget through triage's engine and reports the
validation MSE; the LRs come from:

- authors: LBFGS at 0.8, as published;
- triage, its default updater: ``lr_find``'s recommendation for Nesterov SGD;
- triage, the updater kept: ``lr_find`` on ``Task(optimizer=LBFGS factory)``.

lr-find runs at the authors' batch (the full 97 waves) with probes as long as their whole
budget (``steps=15``, ``max_steps=300``, the defaults' ratio; 15 LBFGS steps are up to 300
evaluations). ``--length`` shortens the
waves (authors: 1000) so that LBFGS's 20 evaluations per step stay affordable on a CPU: the
per-timestep Python loop is the authors' own.

    python benchmarks/own_updater.py [--length 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date

import numpy as np
import torch
from torch import nn

from triage import LRFindSettings, ProbeSettings, Task, lr_find, run_probes
from triage.storage import quiet_optuna

BUDGET = 15  # the authors' LBFGS steps, one per epoch on the full batch
HIDDEN = 51


class Sequence(nn.Module):
    """The authors' model (time_sequence_prediction/train.py), predicting the next value."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, HIDDEN)
        self.lstm2 = nn.LSTMCell(HIDDEN, HIDDEN)
        self.linear = nn.Linear(HIDDEN, 1)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        h1 = torch.zeros(waves.size(0), HIDDEN, dtype=waves.dtype)
        c1, h2, c2 = torch.zeros_like(h1), torch.zeros_like(h1), torch.zeros_like(h1)
        outputs = []
        for x in waves.split(1, dim=1):
            h1, c1 = self.lstm1(x, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.cat(outputs, dim=1)


def waves(length: int) -> np.ndarray:
    """The authors' generate_sine_wave.py: 100 phase-shifted sine waves, float64."""
    rng = np.random.RandomState(2)
    period, count = 20, 100
    x = np.arange(length) + rng.randint(-4 * period, 4 * period, count).reshape(count, 1)
    return np.sin(x / 1.0 / period).astype("float64")


def lbfgs(params, lr: float = 0.8) -> torch.optim.LBFGS:
    return torch.optim.LBFGS(params, lr=lr)


def task(length: int, own_updater: bool) -> Task:
    data = waves(length)
    return Task(model=lambda: Sequence().double(), train=(data[3:, :-1], data[3:, 1:]),
                val=(data[:3, :-1], data[:3, 1:]), loss="mse", name="time_sequence",
                epochs=BUDGET, optimizer=lbfgs if own_updater else None)


def trained(length: int, own_updater: bool, lr: float) -> float | None:
    """Validation MSE after the authors' budget at ``lr`` (None: it diverged)."""
    t = task(length, own_updater)
    (result,) = run_probes(t, [ProbeSettings(lr=lr, optimizer=t.updater, batch_size=97,
                                             device="cpu")])
    return result.val_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_optuna()
    print(f"own_updater  {date.today()}  {platform.machine()}  torch {torch.__version__}  "
          f"{args.threads} thread(s)  waves of {args.length} steps, budget {BUDGET} epochs")
    print(f"{'run':<34}{'updater':<9}{'lr':>9}{'val MSE':>11}{'lr-find steps':>15}"
          f"{'seconds':>9}")
    runs = [("authors (published LR)", True), ("triage lr-find, default updater", False),
            ("triage lr-find, updater kept", True)]
    for i, (name, own) in enumerate(runs):
        started, lr, steps = time.perf_counter(), 0.8, None
        if i:
            config = lr_find(task(args.length, own), LRFindSettings(
                batch_size=97, steps=BUDGET, max_steps=20 * BUDGET, device="cpu"))
            lr, steps = config.optimizer.lr, config.lr_find.steps_used
        mse = trained(args.length, own, lr)
        shown = "-" if mse is None else f"{mse:.3g}"
        print(f"{name:<34}{'LBFGS' if own else 'SGD':<9}{lr:>9.3g}{shown:>11}"
              f"{'-' if steps is None else steps:>15}{time.perf_counter() - started:>9.0f}",
              flush=True)

if __name__ == "__main__":
    main()
