"""Doctor's wall time against its budget, on programs whose training step takes up to 0.1 s.

Each program is a wide MLP on synthetic data whose width and batch size set the step time
(measured here, as the median of 20 plain steps); doctor runs with its default 60 s budget
(``--budget``) and, for comparison, with none. The issue-12 target: within 60 s on two CPU
cores for every program whose single step takes under 0.1 s.

    python benchmarks/doctor_time.py [--threads 2] [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from datetime import date

import numpy as np
import torch
from torch import nn

from triage import Task
from triage.doctor import doctor
from triage.probe import ProbeSettings

# (hidden width, batch size): from a fast step to one near 0.1 s on two cores.
SHAPES = ((256, 64), (1024, 500), (2048, 2000))


def wide_task(width: int, samples: int = 8000) -> Task:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(samples, 64)).astype(np.float32)
    y = (X[:, :8].sum(1) > 0).astype(np.int64) + 2 * (X[:, 8:16].sum(1) > 0)
    model = lambda: nn.Sequential(nn.Linear(64, width), nn.ReLU(),  # noqa: E731
                                  nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 4))
    return Task(model=model, train=(X, y), name=f"wide{width}", epochs=5)


def step_seconds(task: Task, batch: int) -> float:
    model = task.model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    X, y = (torch.as_tensor(a) for a in task.train)
    times = []
    for i in range(23):
        rows = slice((i * batch) % (len(X) - batch), (i * batch) % (len(X) - batch) + batch)
        started = time.perf_counter()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X[rows]), y[rows]).backward()
        optimizer.step()
        if i >= 3:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=60.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    print(f"doctor_time  {date.today()}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} CPUs  torch {torch.__version__}  {args.threads} thread(s)")
    print(f"{'program':<12}{'batch':>6}{'step s':>8}{'budget s':>10}{'no limit s':>12}"
          f"{'within':>8}  shortened (ran/wanted)")
    for width, batch in SHAPES:
        task = wide_task(width)
        per_step = step_seconds(task, batch)
        settings = ProbeSettings(lr=0.01, batch_size=batch, device="cpu")
        started = time.perf_counter()
        bounded = doctor(task, settings, budget=args.budget)
        with_budget = time.perf_counter() - started
        started = time.perf_counter()
        doctor(task, settings, budget=None)
        unbounded = time.perf_counter() - started
        cut = ", ".join(f"{n} {r}/{w}" for n, (w, r) in bounded.shortened.items()) or "-"
        within = "yes" if with_budget <= args.budget else "NO"
        print(f"{task.name:<12}{batch:>6}{per_step:>8.3f}{with_budget:>10.1f}{unbounded:>12.1f}"
              f"{within:>8}  {cut}")


if __name__ == "__main__":
    main()
