"""Sweep efficiency: ``triage sweep`` (lr-find prior + TPE + median pruning) against plain random
search over the same space with 4x the trials.

For every bundled example and seed:
- triage: ``lr_find`` (default settings), then ``sweep`` with ``--trials N`` centred on its LR;
  its training steps include lr-find's;
- random: ``sweep --sampler random --pruner none`` with ``4N`` trials and no prior.

Both search the bundled ``default`` space; each trial trains for the task's full budget (unless
pruned) and is scored by its final validation loss. Printed per case: the best validation loss
of each, their ratio (target <= 1.02), the training steps of each and their ratio (target
<= 0.30).

    python benchmarks/sweep_efficiency.py [--examples digits_mlp,diabetes_mlp] [--trials 20]
        [--seeds 0,1] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import torch

from triage.examples import EXAMPLES
from triage.lr_finder import LRFindSettings, lr_find
from triage.storage import quiet_optuna
from triage.sweeper import LRPrior, SweepSettings, load_space, sweep

DEFAULT_EXAMPLES = ("digits_mlp", "diabetes_mlp", "breast_cancer_mlp", "friedman_mlp")


def run(job: tuple[str, str, int, int]) -> tuple[str, str, int, float, int, float]:
    """(example, method, seed, best validation loss, training steps, seconds)."""
    name, method, seed, trials = job
    torch.set_num_threads(1)
    quiet_optuna(40)
    started = time.perf_counter()
    task = EXAMPLES[name]()
    space = load_space("default")
    if method == "triage":
        config = lr_find(task, LRFindSettings(seed=seed))
        summary = sweep(task, space, SweepSettings(trials=trials, seed=seed),
                        prior=LRPrior.of(config), storage=None)
        steps = summary.steps + config.lr_find["steps_used"]
    else:
        summary = sweep(task, space, SweepSettings(trials=4 * trials, sampler="random",
                                                   pruner="none", seed=seed), storage=None)
        steps = summary.steps
    best = summary.best.sweep["val_loss"] if summary.best else float("inf")
    return name, method, seed, best, steps, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", default=",".join(DEFAULT_EXAMPLES))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = args.examples.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(n, m, s, args.trials) for n in names for s in seeds for m in ("random", "triage")]
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        results = {(n, m, s): (best, steps, secs) for n, m, s, best, steps, secs
                   in pool.map(run, jobs)}
    print(f"sweep_efficiency  {date.today()}  {platform.processor() or platform.machine()}  "
          f"torch {torch.__version__}  trials: triage {args.trials}, random {4 * args.trials}")
    header = (f"{'example':<18} {'seed':>4} {'random best':>12} {'triage best':>12} "
              f"{'loss ratio':>10} {'random steps':>12} {'triage steps':>12} {'step ratio':>10}"
              f"  verdict")
    print(header)
    print("-" * len(header))
    passed = 0
    for name in names:
        for seed in seeds:
            r_best, r_steps, _ = results[(name, "random", seed)]
            t_best, t_steps, _ = results[(name, "triage", seed)]
            loss_ratio, step_ratio = t_best / r_best, t_steps / r_steps
            ok = loss_ratio <= 1.02 and step_ratio <= 0.30
            passed += ok
            print(f"{name:<18} {seed:>4} {r_best:>12.4f} {t_best:>12.4f} {loss_ratio:>10.3f} "
                  f"{r_steps:>12} {t_steps:>12} {step_ratio:>10.3f}  "
                  f"{'ok' if ok else 'MISS'}")
    print(f"\n{passed}/{len(names) * len(seeds)} cases within 2% of random search's best at "
          f"<= 30% of its steps; {time.perf_counter() - started:.0f} s wall")


if __name__ == "__main__":
    main()
