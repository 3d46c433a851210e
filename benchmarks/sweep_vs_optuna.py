"""triage's sweep against plain Optuna at the same compute.

For every task and search seed, four searches each spend a budget of training steps, counted
the same way for all (one "training" = the task's epochs at batch size 32):

- triage: ``lr_find`` then ``sweep --budget K --from`` (lr-find's steps count against K);
- optuna: plain Optuna as a user writes it: TPE + median pruner over updater {Nesterov SGD,
  Adam}, log LR 1e-5..1, batch {16, 32, 64, 128}, log weight decay 1e-6..1e-3, its own
  training loop (below), trials started until the K trainings' steps are spent;
- hyperband: the same with ``HyperbandPruner`` (Optuna's benchmarks pair it with TPE);
- random: random search over the same space, no pruning, given twice the steps.

Each search's best config is then retrained with 3 fresh seeds at the full budget (the same
engine for all) and scored by its mean final validation loss. Printed per task-seed: each
score, triage's ratio to each baseline, and the steps each spent.

The held-out tasks (``sweep_tasks.py``) were written before the sweep strategy was designed;
the bundled examples are the seen set.

    python benchmarks/sweep_vs_optuna.py [--tasks moons_tanh,...] [--seeds 0,1] [--budget 20]
        [--methods triage,optuna,hyperband,random] [--workers 2] [--cache results.json]

``--cache`` keeps every finished search and retrain in a JSON file keyed by its inputs, so a
rerun after a change to triage reruns only triage's searches (the baselines do not depend on
triage's code).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from typing import Any

import optuna
import torch
import torch.nn.functional as F

from triage.examples import EXAMPLES
from triage.probe import ProbeSettings, run_probe
from triage.storage import quiet_optuna
from triage.task import Task

from sweep_tasks import TASKS

ALL_TASKS = {**TASKS, **EXAMPLES}
HELD_OUT = tuple(TASKS)
RETRAIN_SEEDS = (1000, 1001, 1002)
BASE_BATCH = 32
LOSSES = {"cross_entropy": F.cross_entropy, "mse": F.mse_loss,
          "bce_with_logits": F.binary_cross_entropy_with_logits}


def training_steps(task: Task) -> int:
    """One training, in steps: the task's epochs at batch size 32."""
    return task.prepare(0).budget_steps(BASE_BATCH)


# -- plain Optuna, as a user writes it -------------------------------------------------------

def plain_optuna(task: Task, seed: int, budget: int, pruner: str, sampler: str) -> dict:
    """A study over the user's four hyperparameters, trials started until ``budget`` steps are
    spent; returns the best trial's settings and the steps spent."""
    X, y = (torch.as_tensor(a) for a in task.train)
    Xv, yv = (torch.as_tensor(a) for a in task.val)
    loss_fn = LOSSES[task.loss]
    spent = [0]

    def objective(trial: optuna.Trial) -> float:
        updater = trial.suggest_categorical("optimizer", ["sgd_nesterov", "adam"])
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        batch = trial.suggest_categorical("batch_size", [16, 32, 64, 128])
        wd = trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True)
        torch.manual_seed(seed + trial.number)
        model = task.model()
        if updater == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                  weight_decay=wd)
        val = math.nan
        for epoch in range(task.epochs):
            model.train()
            for idx in torch.randperm(len(X)).split(batch):
                loss = loss_fn(model(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                spent[0] += 1
                if not math.isfinite(loss.item()):
                    return math.nan  # diverged: Optuna records the trial as failed
            model.eval()
            with torch.no_grad():
                val = loss_fn(model(Xv), yv).item()
            trial.report(val, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return val

    pruners = {"median": optuna.pruners.MedianPruner(),
               "hyperband": optuna.pruners.HyperbandPruner(max_resource=task.epochs),
               "none": optuna.pruners.NopPruner()}
    samplers = {"tpe": optuna.samplers.TPESampler(seed=seed),
                "random": optuna.samplers.RandomSampler(seed=seed)}
    study = optuna.create_study(sampler=samplers[sampler], pruner=pruners[pruner])
    while spent[0] < budget:
        study.optimize(objective, n_trials=1)
    best = study.best_trial.params
    updater = best["optimizer"]
    settings = {"lr": best["lr"], "optimizer": "adam" if updater == "adam" else "sgd",
                "momentum": 0.9 if updater != "adam" else 0.0, "nesterov": updater != "adam",
                "weight_decay": best["weight_decay"], "batch_size": best["batch_size"]}
    return {"settings": settings, "steps": spent[0], "trials": len(study.trials)}


# -- triage ----------------------------------------------------------------------------------

def run_triage(task: Task, seed: int, budget_trainings: int) -> dict:
    """lr-find, then a sweep whose budget includes lr-find's steps."""
    from triage.lr_finder import LRFindSettings, lr_find
    from triage.sweeper import LRPrior, SweepSettings, load_space, sweep

    config = lr_find(task, LRFindSettings(seed=seed, device="cpu"))
    summary = sweep(task, load_space("default"),
                    SweepSettings(budget=budget_trainings, seed=seed, device="cpu"),
                    prior=LRPrior.of(config), storage=None)
    assert summary.best is not None
    settings = summary.best.probe_settings(device="cpu").to_dict()
    return {"settings": settings, "steps": summary.spent["total"], "trials": len(summary.table),
            "spent": summary.spent, "rule": summary.rule}


# -- jobs ------------------------------------------------------------------------------------

def search(job: tuple[str, str, int, int]) -> dict:
    name, method, seed, budget = job
    torch.set_num_threads(1)
    quiet_optuna(40)
    task = ALL_TASKS[name]()
    steps = budget * training_steps(task)
    started = time.perf_counter()
    if method == "triage":
        out = run_triage(task, seed, budget)
    elif method == "optuna":
        out = plain_optuna(task, seed, steps, "median", "tpe")
    elif method == "hyperband":
        out = plain_optuna(task, seed, steps, "hyperband", "tpe")
    else:
        out = plain_optuna(task, seed, 2 * steps, "none", "random")
    return {**out, "seconds": time.perf_counter() - started, "budget_steps": steps}


def retrain(job: tuple[str, str, int]) -> float:
    """Final validation loss of one full-budget training (inf when it diverged)."""
    name, settings, seed = job
    torch.set_num_threads(1)
    values = {**json.loads(settings), "seed": seed, "device": "cpu", "steps": None,
              "epochs": None, "evaluate": True}
    prepared = ALL_TASKS[name]().prepare(0)
    result = run_probe(prepared, ProbeSettings.from_dict(values))
    return result.val_loss if result.ok and result.val_loss is not None else math.inf


class Cache:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path and os.path.exists(path):
            with open(path) as fh:
                self.data = json.load(fh)

    def save(self) -> None:
        if self.path:
            with open(self.path, "w") as fh:
                json.dump(self.data, fh, indent=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(ALL_TASKS))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--budget", type=int, default=20, help="trainings per search")
    parser.add_argument("--methods", default="triage,optuna,hyperband,random")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--fresh", default="", help="methods to rerun despite the cache")
    args = parser.parse_args()
    names, methods = args.tasks.split(","), args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    cache = Cache(args.cache)
    fresh = set(filter(None, args.fresh.split(",")))
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    jobs = [(n, m, s, args.budget) for n in names for s in seeds for m in methods]
    key = lambda job: "|".join(map(str, job))  # noqa: E731
    todo = [j for j in jobs if key(j) not in cache.data or j[1] in fresh]
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        for job, out in zip(todo, pool.map(search, todo), strict=True):
            cache.data[key(job)] = out
            print(f"  {key(job)}: {out['steps']} steps, {out['trials']} trials, "
                  f"{out['seconds']:.0f} s", flush=True)
        cache.save()
        retrains = []
        for job in jobs:
            settings = json.dumps(cache.data[key(job)]["settings"], sort_keys=True)
            retrains += [(job[0], settings, seed) for seed in RETRAIN_SEEDS]
        todo_r = sorted({r for r in retrains if key(r) not in cache.data})
        for job, loss in zip(todo_r, pool.map(retrain, todo_r), strict=True):
            cache.data[key(job)] = loss
        cache.save()
    scores = {}
    for job in jobs:
        settings = json.dumps(cache.data[key(job)]["settings"], sort_keys=True)
        scores[job] = statistics.mean(cache.data[key((job[0], settings, s))]
                                      for s in RETRAIN_SEEDS)
    print_table(names, seeds, methods, args.budget, scores, cache, key,
                time.perf_counter() - started)


def print_table(names: list[str], seeds: list[int], methods: list[str], budget: int,
                scores: dict, cache: Cache, key: Any, seconds: float) -> None:
    print(f"\nsweep_vs_optuna  {date.today()}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} CPUs  torch {torch.__version__}  optuna {optuna.__version__}  "
          f"budget {budget} trainings (random: {2 * budget})\n")
    others = [m for m in methods if m != "triage"]
    header = ("| task | seed | " + " | ".join(f"{m} loss" for m in methods) + " | "
              + " | ".join(f"triage/{m}" for m in others) + " | "
              + " | ".join(f"{m} steps (trials)" for m in methods) + " |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    ratios: dict[str, dict[str, list[float]]] = {"held-out": {}, "seen": {}}
    for name in names:
        group = "held-out" if name in HELD_OUT else "seen"
        for seed in seeds:
            row = [name + ("" if group == "seen" else " (held out)"), str(seed)]
            row += [f"{scores[(name, m, seed, budget)]:.4f}" for m in methods]
            if "triage" in methods:
                t = scores[(name, "triage", seed, budget)]
                for m in others:
                    ratio = t / scores[(name, m, seed, budget)]
                    ratios[group].setdefault(m, []).append(ratio)
                    row.append(f"{ratio:.3f}")
            for m in methods:
                out = cache.data[key((name, m, seed, budget))]
                row.append(f"{out['steps']} ({out['trials']})")
            print("| " + " | ".join(row) + " |")
    print()
    for group, by_method in ratios.items():
        for m, values in by_method.items():
            wins = sum(v <= 1.0 for v in values)
            print(f"{group}: triage/{m}: better or equal in {wins}/{len(values)}, median "
                  f"{statistics.median(values):.3f}, worst {max(values):.3f}")
    print(f"\nwall time {seconds:.0f} s")


if __name__ == "__main__":
    main()
