"""lr-find with probes at once (``--parallel auto``) against one at a time (``--parallel 1``).

Part 1, the procedure: ``lr_find()`` on every bundled example, in one process after a warm-up
run (so imports and torch's one-time set-up are outside both), the two runners alternating,
``--repeats`` times each; median seconds, the ratio, and whether the recommended LR is the
same. Part 2, the whole command: ``triage lr-find benchmarks/mnist_like.py:task`` (a 1.2M
parameter CNN on 8,000 28x28 images) as a subprocess with each runner, start-up included.

Part 3, on a GPU (or ``--fused-device cpu`` to try it): K = 1, 3, 8, 16 probes of 300 steps
fused into one model (``run_fused``) against one probe (``run_probe``), digits MLP and CNN.

    python benchmarks/parallel_probes.py [--repeats 5] [--seeds 0] [--no-command]
        [--fused-device cuda] [--only-fused]

Targets (issue 13), on two CPU cores: the procedure at most 0.65x sequential on the bundled
examples, the whole command at most 0.65x on a model whose probes take over a minute, never
slower, the same recommended LR. On a GPU: 8 fused probes of a model under 1M parameters at
most 1.5x the wall time of one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import date
from functools import partial
from statistics import median
from unittest import mock

import torch
import yaml

from triage.examples import EXAMPLES
from triage.lr_finder import LRFindSettings, lr_find
from triage.storage import quiet_optuna


def timed(name: str, parallel: str, seed: int, all_threads: bool = False
          ) -> tuple[float, float]:
    """Seconds and LR of one lr_find; ``all_threads``: one probe at a time with torch's own
    threads, as ``--parallel 1`` trained every model before small ones got one thread."""
    task = EXAMPLES[name]()
    with (mock.patch("triage.probe.parallel.SMALL_MODEL", 0) if all_threads
          else contextlib.nullcontext()):
        started = time.perf_counter()
        config = lr_find(task, LRFindSettings(device="cpu", seed=seed, parallel=parallel))
    return time.perf_counter() - started, config.optimizer.lr


def procedure(repeats: int, seeds: list[int]) -> None:
    """``--parallel 1`` (one thread for these small models), one at a time with torch's
    threads, and ``--parallel auto``, interleaved; the ratio is to the faster sequential."""
    timed("digits_mlp", "auto", 0)  # warm-up: imports, torch._dynamo, allocator
    print("| example | seed | --parallel 1 s | all threads s | --parallel auto s | "
          "x faster sequential | same LR (1, auto) | LR | all threads' LR |")
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for name in EXAMPLES:
        for seed in seeds:
            seq, wide, par, lrs, wide_lrs = [], [], [], set(), set()
            for _ in range(repeats):
                s, lr_s = timed(name, "1", seed)
                w, lr_w = timed(name, "1", seed, all_threads=True)
                p, lr_p = timed(name, "auto", seed)
                seq.append(s)
                wide.append(w)
                par.append(p)
                lrs |= {lr_s, lr_p}
                wide_lrs.add(lr_w)
            ratio = median(par) / min(median(seq), median(wide))
            ratios.append(ratio)
            print(f"| {name} | {seed} | {median(seq):.3f} | {median(wide):.3f} | "
                  f"{median(par):.3f} | {ratio:.2f} | {'yes' if len(lrs) == 1 else 'NO'} | "
                  f"{', '.join(f'{x:.4g}' for x in lrs)} | "
                  f"{', '.join(f'{x:.4g}' for x in wide_lrs)} |", flush=True)
    print(f"\nworst ratio {max(ratios):.2f}, best {min(ratios):.2f}")


def command(parallel: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as where:
        task = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_like.py") + ":task"
        started = time.perf_counter()
        subprocess.run([shutil.which("triage") or "triage", "lr-find", task, "--device", "cpu",
                        "--parallel", parallel, "--no-plot"], cwd=where, check=True,
                       capture_output=True)
        seconds = time.perf_counter() - started
        with open(os.path.join(where, "triage.yaml")) as f:
            lr = yaml.safe_load(f)["optimizer"]["lr"]
    return seconds, lr


def fused(device: str, repeats: int) -> None:
    from triage.probe import ProbeSettings, run_probe
    from triage.probe.fused import run_fused

    print(f"\n| model ({device}) | K | one probe s | K fused s | x one probe |")
    print("|---|---|---|---|---|")
    for name in ("digits_mlp", "digits_cnn"):
        prepared = EXAMPLES[name]().prepare(0)
        base = ProbeSettings(lr=0.01, steps=300, device=device, evaluate=False)
        run_fused(prepared, [base, base.with_(lr=0.02)])  # warm-up: kernels, allocator
        run_probe(prepared, base)
        one = median(_timed(partial(run_probe, prepared, base), device)
                     for _ in range(repeats))
        for k in (1, 3, 8, 16):
            many = [base.with_(lr=0.01 * (1 + i)) for i in range(k)]
            t = median(_timed(partial(run_fused, prepared, many), device)
                       for _ in range(repeats))
            print(f"| {name} | {k} | {one:.3f} | {t:.3f} | {t / one:.2f} |", flush=True)


def _timed(run, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--no-command", action="store_true", help="skip part 2")
    parser.add_argument("--fused-device", default="cuda" if torch.cuda.is_available() else None,
                        help="run part 3 on this device (default: cuda when present)")
    parser.add_argument("--only-fused", action="store_true", help="part 3 only")
    args = parser.parse_args()
    quiet_optuna()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    print(f"parallel_probes  {date.today()}  {platform.machine()}  {os.cpu_count()} CPUs  "
          f"torch {torch.__version__}  {torch.get_num_threads()} threads  {gpu}\n")
    if args.fused_device:
        fused(args.fused_device, args.repeats)
    if args.only_fused:
        return
    procedure(args.repeats, [int(s) for s in args.seeds.split(",")])
    if args.no_command:
        return
    print("\n| command | seconds | x sequential | LR |")
    print("|---|---|---|---|")
    seq_s, seq_lr = command("1")
    print(f"| mnist_like --parallel 1 | {seq_s:.1f} | 1.00 | {seq_lr:.4g} |", flush=True)
    for parallel in ("2", "auto"):
        par_s, par_lr = command(parallel)
        print(f"| mnist_like --parallel {parallel} | {par_s:.1f} | {par_s / seq_s:.2f} | "
              f"{par_lr:.4g} |", flush=True)


if __name__ == "__main__":
    main()
