"""LR quality: triage lr-find versus an exhaustive grid and the LR range test.

For every bundled example and optimizer (SGD+Nesterov, Adam):
- grid: 25 log-spaced LRs, each trained for the task's full budget; the best validation loss
  is the reference;
- triage: ``lr_find``'s recommendation, trained for the full budget;
- range test: the Lightning/fastai algorithm (exponential ramp from 1e-7 to 10 over 100 steps,
  suggestion at the steepest descent of the smoothed loss), trained for the full budget;
- three: the best of 1e-1, 1e-3 and 1e-6 by full-budget validation loss.

Every LR is scored by its full-budget validation loss averaged over ``--seeds`` training seeds
(the same seeds for every method), so that one lucky or unlucky seed does not decide a case.
Each method's number is its score divided by the grid best ("within 25%" = <= 1.25); compute is
the training steps the method spent choosing (the grid and 'three' count their full runs, one
seed). lr-find and the range test run once, with seed 0, as a user would.

    python benchmarks/lr_quality.py [--examples digits_mlp,wine_mlp] [--optimizers sgd,adam]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import cache

import numpy as np
import torch

from triage.data import batches
from triage.examples import EXAMPLES
from triage.lr_finder import LRFindSettings, lr_find
from triage.optimizers import make_optimizer
from triage.probe import ProbeSettings, run_probes
from triage.rng import seeded
from triage.storage import quiet_optuna
from triage.task import PreparedTask, build_model


@cache
def _prepared(name: str) -> PreparedTask:
    return EXAMPLES[name]().prepare(0)


def score(args: tuple[str, str, float, tuple[int, ...]]) -> tuple[float, float | None, int]:
    """Mean full-budget validation loss over seeds (inf if any diverged), mean accuracy
    (classification only), and one run's steps."""
    name, optimizer, lr, seeds = args
    runs = [full_run(_prepared(name), optimizer, lr, seed) for seed in seeds]
    accuracies = [acc for _, acc, _ in runs]
    accuracy = None if None in accuracies else sum(accuracies) / len(runs)
    return sum(loss for loss, _, _ in runs) / len(runs), accuracy, runs[0][2]


def _init_worker() -> None:
    torch.set_num_threads(1)


def full_run(prepared: PreparedTask, optimizer: str, lr: float,
             seed: int) -> tuple[float, float | None, int]:
    """Validation loss (inf when diverged), accuracy (0 when diverged) and steps of one
    full-budget run."""
    result = run_probes(prepared, [ProbeSettings(lr=lr, optimizer=optimizer, seed=seed,
                                                 device="cpu")])[0]
    ok = result.ok and result.val_loss is not None
    accuracy = None if prepared.accuracy is None else (result.val_accuracy if ok else 0.0)
    return (result.val_loss if ok else math.inf), accuracy, result.steps


def range_test(prepared: PreparedTask, optimizer: str, seed: int, steps: int = 100,
               start: float = 1e-7, end: float = 10.0) -> float:
    """The LR range test (Smith; fastai/Lightning): ramp, smooth, pick the steepest descent."""
    with seeded(seed) as generator:
        model = build_model(prepared.task)
        opt = make_optimizer(optimizer, model.parameters(), start)
        lrs, losses = [], []
        avg, best = 0.0, math.inf
        gamma = (end / start) ** (1 / (steps - 1))
        step = 0
        while step < steps:
            for xb, yb in batches(prepared.train, 32, torch.device("cpu"), generator):
                lr = start * gamma**step
                for group in opt.param_groups:
                    group["lr"] = lr
                loss = prepared.task.loss_fn(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                value = float(loss.detach())
                avg = 0.98 * avg + 0.02 * value
                smoothed = avg / (1 - 0.98 ** (step + 1))
                lrs.append(lr)
                losses.append(smoothed)
                step += 1
                if not math.isfinite(smoothed) or smoothed > 4 * best or step >= steps:
                    break
                best = min(best, smoothed)
            if not math.isfinite(losses[-1]) or losses[-1] > 4 * best:
                break
    # Lightning's suggestion: the steepest negative gradient, skipping the first 10 points.
    y = np.array(losses[10:-1] if len(losses) > 12 else losses)
    x = np.array(lrs[10:-1] if len(lrs) > 12 else lrs)
    finite = np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(y) < 3:
        return start
    return float(x[int(np.argmin(np.gradient(y)))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default=",".join(EXAMPLES))
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--grid-points", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per LR score")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    quiet_optuna()
    grid = np.logspace(-5, 1, args.grid_points).tolist()
    seeds = tuple(range(args.seeds))
    rows = []
    started = time.time()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context, initializer=_init_worker) as pool:
        for name in args.examples.split(","):
            for optimizer in args.optimizers.split(","):
                rows.append(_case(pool, name, optimizer, grid, seeds))
                r = rows[-1]
                print(f"  {r['case']}: grid {r['grid_lr']:.3g} triage {r['triage_lr']:.3g} "
                      f"x{r['triage'][0]:.2f} range-test {r['rt_lr']:.3g} "
                      f"x{r['rt'][0]:.2f}", flush=True)
    print_table(rows, time.time() - started, seeds)


def _case(pool: ProcessPoolExecutor, name: str, optimizer: str, grid: list[float],
          seeds: tuple[int, ...]) -> dict:
    task = EXAMPLES[name]()
    prepared = task.prepare(0)
    config = lr_find(task, LRFindSettings(optimizer=optimizer, device="cpu", seed=0))
    rt_lr = range_test(prepared, optimizer, seed=0)
    three = (1e-1, 1e-3, 1e-6)
    lrs = [*grid, config.optimizer.lr, rt_lr, *three]
    scores = list(pool.map(score, [(name, optimizer, lr, seeds) for lr in lrs]))
    grid_scores, triage_score, rt_score = scores[:len(grid)], scores[-5], scores[-4]
    three_score = min(scores[-3:], key=lambda s: s[0])
    best_i = int(np.argmin([loss for loss, _, _ in grid_scores]))
    best, best_acc, _ = grid_scores[best_i]

    def verdict(method: tuple[float, float | None, int]) -> tuple[float, bool]:
        """(loss ratio to the grid best, badly wrong: >2x, >5 accuracy points off, diverged)"""
        ratio = method[0] / best
        acc_off = best_acc is not None and method[1] is not None and method[1] < best_acc - 0.05
        return ratio, not math.isfinite(ratio) or ratio > 2 or acc_off

    return {
        "case": f"{name}/{optimizer}", "grid_lr": grid[best_i], "grid_loss": best,
        "grid_acc": best_acc, "grid_steps": sum(s for _, _, s in grid_scores),
        "triage_lr": config.optimizer.lr, "triage": verdict(triage_score),
        "triage_acc": triage_score[1], "triage_steps": config.lr_find.steps_used,
        "rt_lr": rt_lr, "rt": verdict(rt_score), "rt_steps": 100,
        "three": verdict(three_score), "three_steps": sum(s for _, _, s in scores[-3:]),
    }


def print_table(rows: list[dict], seconds: float, seeds: tuple[int, ...]) -> None:
    print(f"\nLR quality — {date.today()} — {platform.machine()}, {multiprocessing.cpu_count()} "
          f"CPUs, torch {torch.__version__}; scores: mean val loss over seeds {list(seeds)}\n")
    header = ("| case | grid-best LR | grid-best score (acc) | triage LR | triage ratio (acc) | "
              "triage steps | range-test LR | range-test ratio | best-of-3 ratio |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        print(f"| {r['case']} | {r['grid_lr']:.3g} | {r['grid_loss']:.4f}{_acc(r['grid_acc'])} "
              f"| {r['triage_lr']:.3g} | {_ratio(r['triage'])}{_acc(r['triage_acc'])} | "
              f"{r['triage_steps']} | {r['rt_lr']:.3g} | {_ratio(r['rt'])} | "
              f"{_ratio(r['three'])} |")
    n = len(rows)
    print("\n(! = badly wrong: over 2x the grid-best loss, accuracy more than 5 points below "
          "the grid best's, or diverged)")
    for key, label, steps in (("triage", "triage lr-find", "triage_steps"),
                              ("rt", "LR range test", "rt_steps"),
                              ("three", "best of 1e-1/1e-3/1e-6", "three_steps")):
        within = sum(r[key][0] <= 1.25 for r in rows)
        bad = sum(r[key][1] for r in rows)
        diverged = sum(not math.isfinite(r[key][0]) for r in rows)
        print(f"{label}: within 25% of the grid best in {within}/{n} ({within / n:.0%}); badly "
              f"wrong in {bad}/{n}; diverged in {diverged}/{n}; steps to choose: max "
              f"{max(r[steps] for r in rows)}, mean {sum(r[steps] for r in rows) / n:.0f}")
    print(f"grid: {sum(r['grid_steps'] for r in rows) // n} steps per case on average; "
          f"wall time {seconds:.0f}s")


def _acc(value: float | None) -> str:
    return "" if value is None else f" ({value:.1%})"


def _ratio(verdict: tuple[float, bool]) -> str:
    ratio, bad = verdict
    return "diverged !" if not math.isfinite(ratio) else f"{ratio:.3f}{' !' if bad else ''}"


if __name__ == "__main__":
    main()
