"""lr-find under torchrun on every device of the machine, against the same plan in one process.

Two runs of the same lr-find (same task, per-device batch, seed), each timed from the command
line:
- ddp: ``torchrun --standalone --nproc-per-node N -m triage lr-find ...``: every probe for N
  workers is a DDP job across the N processes (NCCL on GPUs, gloo on CPUs);
- one process: ``triage lr-find ... --world-size N`` on one device (each step accumulates the
  N micro-batches).
The table shows each run's LR, probes, steps and wall time, and whether the LRs are equal (the
DDP step is the accumulated step, so they should be, up to the order of floating-point sums).

    python benchmarks/ddp_lr_find.py [--nproc N] [--task digits_mlp] [--batch-size 32]

N defaults to the CUDA devices visible (issue 23's "NCCL lr-find on every GPU"), else 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch


def run(command: list[str], cwd: Path) -> tuple[dict, float]:
    """Run one lr-find with --json; (its config document, wall seconds)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GLOO_SOCKET_IFNAME": os.environ.get(
                              "GLOO_SOCKET_IFNAME", "lo")})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=torch.cuda.device_count() or 2)
    parser.add_argument("--task", default="digits_mlp")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    common = ["lr-find", args.task, "--batch-size", str(args.batch_size), "--seed",
              str(args.seed), "--json", "--no-plot", "--out", "c.yaml"]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for mode, head in (
                ("ddp", [sys.executable, "-m", "torch.distributed.run", "--standalone",
                         "--nproc-per-node", str(args.nproc), "-m", "triage"]),
                ("one process", [sys.executable, "-m", "triage"])):
            extra = ["--world-size", str(args.nproc)] if mode == "one process" else []
            where = Path(folder) / mode.replace(" ", "-")
            where.mkdir()
            doc, seconds = run([*head, *common, *extra], where)
            ev = doc["lr_find"]
            rows.append((mode, doc["optimizer"]["lr"], len(ev["probes"]),
                         ev["steps_used"] + ev.get("one_worker_steps", 0), seconds))
    print(f"\nddp_lr_find — {date.today()} — {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{device}, torch {torch.__version__}; task {args.task}, {args.nproc} workers of "
          f"batch {args.batch_size}, seed {args.seed}\n")
    print("| run | recommended LR | probes | steps | wall s |")
    print("|---|---|---|---|---|")
    for mode, lr, probes, steps, seconds in rows:
        print(f"| {mode} | {lr:.6g} | {probes} | {steps} | {seconds:.1f} |")
    same = rows[0][1] == rows[1][1]
    print(f"\nsame LR: {'yes' if same else 'no'}; ddp wall time / one process: "
          f"{rows[0][4] / rows[1][4]:.2f}")


if __name__ == "__main__":
    main()
