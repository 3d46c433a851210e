"""``triage sweep --workers N`` against one worker: wall time, finished trials, duplicates.

Each run is the whole command (``triage sweep digits_cnn --trials 30 --budget 1000 --workers
N``: the trials cap, not the budget, ends the search) in a fresh directory with its own journal
file, so interpreter start-up and the spawned workers' imports are counted. "trials" is the
search trials the table holds (it must equal --trials; the final stage runs after them);
"repeated" counts search trials whose parameters another had; "processes" the workers that ran
trials.

    python benchmarks/sweep_workers.py [--task digits_cnn] [--trials 30] [--workers 1,2]

Target (issue 13): 2 workers on 2 cores finish in at most 0.65x one worker's time, with the same
number of finished trials and no duplicates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import date

PARAMS = ("optimizer", "nesterov", "lr", "momentum", "batch_size", "init", "weight_decay",
          "dropout", "grad_clip_norm", "schedule_after", "schedule_every")


def run(task: str, trials: int, workers: int) -> tuple[float, int, int, int]:
    """(seconds, trials counted in the summary, trials with repeated parameters, workers
    seen in the trials table)."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as where:
        command = [shutil.which("triage") or "triage", "sweep", task, "--trials", str(trials),
                   "--budget", "1000", "--workers", str(workers), "--no-plot", "--json",
                   "--table", os.path.join(where, "trials.csv")]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=where, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
        json.loads(done.stdout)  # the config document, nothing else on stdout
        table = pd.read_csv(os.path.join(where, "trials.csv"))
    counted = int((table["stage"] == "search").sum())
    table = table[table["stage"] == "search"]
    params = [c for c in PARAMS if c in table.columns]
    repeated = int(table.duplicated(subset=params).sum())
    return seconds, counted, repeated, int(table["worker"].nunique())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="digits_cnn")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"sweep_workers  {date.today()}  {platform.machine()}  {os.cpu_count()} CPUs  "
          f"task {args.task}  trials {args.trials}")
    print(f"{'workers':>8}{'seconds':>10}{'x one':>8}{'trials':>8}{'repeated':>10}"
          f"{'processes':>11}")
    base = None
    for n in counts:
        seconds, counted, repeated, processes = run(args.task, args.trials, n)
        base = base or seconds
        print(f"{n:>8}{seconds:>10.1f}{seconds / base:>8.2f}{counted:>8}{repeated:>10}"
              f"{processes:>11}", flush=True)


if __name__ == "__main__":
    main()
