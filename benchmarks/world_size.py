"""The LR for N data-parallel workers: ``lr-find --world-size`` against a grid and the rules.

For every case of ``world_size_tasks.py`` (held out: written before ``--world-size`` existed)
and a job of ``WORLD_SIZE`` workers of ``PER_WORKER_BATCH`` each:
- grid: ``--grid-points`` log-spaced LRs, each trained for the task's full budget at the
  effective batch (one micro-batch per worker accumulated a step, as the job would); the best
  validation loss is the reference;
- triage: ``lr_find(..., world_size=N)``'s recommendation, trained the same way (with its
  warmup when lr-find kept one: the "warmup" column says whether it was offered and kept);
- linear and square-root rules: the one-worker LR that the same ``lr_find`` call measured,
  times N and times sqrt(N), trained the same way.

Every LR is scored by its mean full-budget validation loss over ``--seeds`` training seeds (the
same seeds for every method); a method's number is its score over the grid best ("within 25%"
= <= 1.25). Target (issue 23): triage within 25% in at least 5 of 6 cases, and at least as
often as the better of the two rules.

    python benchmarks/world_size.py [--grid-points 25] [--seeds 3] [--workers 2]
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

from world_size_tasks import CASES, PER_WORKER_BATCH, TASKS, WORLD_SIZE

METHODS = ("triage", "linear", "square-root")


def score(args: tuple[str, str, float, tuple[int, ...], int | None]) -> float:
    """Mean full-budget validation loss over seeds at the job's effective batch (inf if any
    run diverged), with a warmup over that many epochs if one is given."""
    name, optimizer, lr, seeds, warmup = args
    prepared = TASKS[name]().prepare(0)
    losses = []
    for seed in seeds:
        result = run_probe(prepared, ProbeSettings(
            lr=lr, optimizer=optimizer, batch_size=PER_WORKER_BATCH, world_size=WORLD_SIZE,
            warmup_epochs=warmup, seed=seed, device="cpu"))
        ok = result.ok and result.val_loss is not None
        losses.append(result.val_loss if ok else math.inf)
    return sum(losses) / len(losses)


def _case(pool: ProcessPoolExecutor, name: str, optimizer: str, grid: list[float],
          seeds: tuple[int, ...]) -> dict:
    config = lr_find(TASKS[name](), LRFindSettings(
        optimizer=optimizer, batch_size=PER_WORKER_BATCH, world_size=WORLD_SIZE,
        device="cpu", seed=0))
    ev = config.lr_find
    assert ev is not None and ev.one_worker_lr is not None
    lrs = {"triage": config.optimizer.lr, **ev.rules()}
    warm = {"triage": config.warmup_epochs}
    scores = list(pool.map(score, [*((name, optimizer, lr, seeds, None) for lr in grid),
                                   *((name, optimizer, lr, seeds, warm.get(m))
                                     for m, lr in lrs.items())]))
    grid_scores, method_scores = scores[:len(grid)], dict(zip(lrs, scores[len(grid):],
                                                              strict=True))
    best_i = int(np.argmin(grid_scores))
    best = grid_scores[best_i]
    return {"case": f"{name}/{optimizer}", "grid_lr": grid[best_i], "grid_loss": best,
            "one_worker_lr": ev.one_worker_lr,
            "held": ev.rule_that_held(ev.chosen_probe["lr"] if ev.chosen_probe else lrs["triage"]),
            "warmup": ("not offered" if ev.warmup is None else
                       f"kept ({config.warmup_epochs} ep)" if ev.warmup["kept"] else
                       "tried, not kept"),
            "steps": ev.steps_used + ev.one_worker_steps,
            **{m: (lrs[m], method_scores[m] / best) for m in METHODS}}


def print_table(rows: list[dict], seconds: float, seeds: tuple[int, ...]) -> None:
    print(f"\nWorld size — {date.today()} — {platform.machine()}, "
          f"{multiprocessing.cpu_count()} CPUs, torch {torch.__version__}; {WORLD_SIZE} workers "
          f"of batch {PER_WORKER_BATCH}; scores: mean val loss over seeds {list(seeds)}\n")
    header = ("| case | grid-best LR | grid-best loss | one-worker LR | triage LR | triage "
              "ratio | linear LR | linear ratio | sqrt LR | sqrt ratio | rule that held "
              "(lr-find's verdict) | warmup | lr-find steps |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        cells = " | ".join(f"{r[m][0]:.3g} | {r[m][1]:.3f}" for m in METHODS)
        print(f"| {r['case']} | {r['grid_lr']:.3g} | {r['grid_loss']:.4f} | "
              f"{r['one_worker_lr']:.3g} | {cells} | {r['held'] or 'neither'} | {r['warmup']} | "
              f"{r['steps']} |")
    n = len(rows)
    print()
    for m in METHODS:
        within = sum(r[m][1] <= 1.25 for r in rows)
        diverged = sum(not math.isfinite(r[m][1]) for r in rows)
        print(f"{m}: within 25% of the grid best in {within}/{n}; diverged in {diverged}/{n}")
    print(f"wall time {seconds:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(f"{t}/{o}" for t, o in CASES))
    parser.add_argument("--grid-points", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per LR score")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    quiet_optuna()
    grid = np.logspace(-5, 1, args.grid_points).tolist()
    seeds = tuple(range(args.seeds))
    rows, started = [], time.time()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context,
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for case in args.cases.split(","):
            name, optimizer = case.split("/")
            rows.append(_case(pool, name, optimizer, grid, seeds))
            r = rows[-1]
            print(f"  {r['case']}: grid {r['grid_lr']:.3g} "
                  + " ".join(f"{m} {r[m][0]:.3g} x{r[m][1]:.2f}" for m in METHODS), flush=True)
    print_table(rows, time.time() - started, seeds)


if __name__ == "__main__":
    main()
