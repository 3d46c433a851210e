"""The critical batch: ``lr-find --world-size``'s noise-scale estimate against brute force.

For three of ``world_size_tasks.py``'s held-out tasks, with SGD (Nesterov momentum 0.9):
- estimate: ``lr_find(..., batch_size=32, world_size=4)``'s gradient noise scale B_simple,
  measured in the probe at the recommended LR (``LRFindEvidence.critical_batch``);
- brute force (McCandlish et al. 2018, section 2.2): at each of ``--batches``, the fewest steps
  any LR of a grid needs for its smoothed training loss to reach a target, then the fit
  S(B) = S_min (1 + B_crit / B), least squares in 1/B; B_crit = slope / intercept.

The target is the loss the best run at the middle batch reaches at half its steps, so every
batch size can reach it. Target (issue 23): the estimate within 2x of the brute-force B_crit on
3 tasks.

    python benchmarks/critical_batch.py [--batches 16,32,64,128,256] [--steps 1500]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import numpy as np
import torch

from triage.lr_finder import LRFindSettings, lr_find
from triage.probe import ProbeSettings, run_probe
from triage.storage import quiet_optuna

from world_size_tasks import TASKS

NAMES = ("shells_mlp", "bars_cnn", "waves_mlp")
LRS = tuple(np.logspace(-3, 0, 7).tolist())


def smoothed(args: tuple[str, int, float, int]) -> list[float]:
    """A run's training losses, exponentially smoothed (bias-corrected); inf once diverged."""
    name, batch, lr, steps = args
    result = run_probe(TASKS[name]().prepare(0), ProbeSettings(
        lr=lr, batch_size=batch, steps=steps, seed=0, device="cpu", evaluate=False))
    out, avg = [], 0.0
    for i, value in enumerate(result.losses):
        if not math.isfinite(value) or (out and not math.isfinite(out[-1])):
            out.append(math.inf)
            continue
        avg = 0.95 * avg + 0.05 * value
        out.append(avg / (1 - 0.95 ** (i + 1)))
    return out + [math.inf] * (steps - len(out))


def steps_to(curve: list[float], target: float) -> float:
    return next((i + 1 for i, v in enumerate(curve) if v <= target), math.inf)


def brute_force(pool: ProcessPoolExecutor, name: str, batches: list[int],
                steps: int) -> tuple[float, dict[int, float]]:
    jobs = [(name, b, lr, steps) for b in batches for lr in LRS]
    curves = dict(zip([(b, lr) for _, b, lr, _ in jobs], pool.map(smoothed, jobs), strict=True))
    middle = batches[len(batches) // 2]
    target = min(curves[(middle, lr)][steps // 2] for lr in LRS)
    needed = {b: min(steps_to(curves[(b, lr)], target) for lr in LRS) for b in batches}
    points = [(1 / b, s) for b, s in needed.items() if math.isfinite(s)]
    slope, intercept = np.polyfit([x for x, _ in points], [s for _, s in points], 1)
    return (slope / intercept if intercept > 0 else math.nan), needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="16,32,64,128,256")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    quiet_optuna()
    batches = [int(b) for b in args.batches.split(",")]
    rows, started = [], time.time()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context,
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for name in NAMES:
            config = lr_find(TASKS[name](), LRFindSettings(
                optimizer="sgd", batch_size=32, world_size=4, device="cpu", seed=0))
            assert config.lr_find is not None
            estimate = config.lr_find.critical_batch
            measured, needed = brute_force(pool, name, batches, args.steps)
            rows.append((name, estimate, measured, needed))
            print(f"  {name}: estimate {estimate} brute force {measured:.0f} {needed}",
                  flush=True)
    print(f"\nCritical batch — {date.today()} — {platform.machine()}, "
          f"{multiprocessing.cpu_count()} CPUs, torch {torch.__version__}; SGD, "
          f"{len(LRS)} LRs per batch, at most {args.steps} steps\n")
    print("| task | estimate (B_simple) | brute-force B_crit | ratio | steps to target by batch |")
    print("|---|---|---|---|---|")
    within = 0
    for name, estimate, measured, needed in rows:
        ratio = estimate / measured if estimate and measured and measured > 0 else math.nan
        within += 0.5 <= ratio <= 2
        steps = ", ".join(f"{b}: {s}" for b, s in needed.items())
        print(f"| {name} | {estimate if estimate is None else f'{estimate:.0f}'} | "
              f"{measured:.0f} | {ratio:.2f} | {steps} |")
    print(f"\nestimate within 2x of brute force: {within}/{len(rows)}; "
          f"wall time {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
