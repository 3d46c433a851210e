"""Probe-engine overhead: ``run_probe`` versus a plain hand-written PyTorch loop.

Both train the same fresh model, on the same data in the same order, for the same number of
steps; the plain loop does nothing but train (no logging, no checks). Runs alternate (which of
the two goes first alternates too). Each side's time is the minimum over ``--repeats`` (as
``timeit`` does: interference from other processes only ever adds time); the median is shown
beside it. Target: probe / plain <= 1.10.

    python benchmarks/overhead.py [--steps 1000] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date

import torch

from triage.builders import make_optimizer
from triage.data import TensorData, batches
from triage.examples import EXAMPLES
from triage.probe import ProbeSettings, run_probe
from triage.probe.device import resolve_device
from triage.rng import seeded
from triage.task import PreparedTask


def plain_loop(prepared: PreparedTask, steps: int, device: torch.device) -> float:
    """The loop a user would write; returns wall seconds."""
    started = time.perf_counter()
    with seeded(0) as generator:
        model = prepared.task.model().to(device)
        optimizer = make_optimizer("sgd", model.parameters(), 0.01)
        train = prepared.train.to(device) if isinstance(prepared.train, TensorData) else \
            prepared.train
        step = 0
        while step < steps:
            for xb, yb in batches(train, 32, device, generator):
                loss = prepared.loss_fn(model(xb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if step >= steps:
                    break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def probe(prepared: PreparedTask, steps: int, device: torch.device) -> float:
    started = time.perf_counter()
    result = run_probe(prepared, ProbeSettings(lr=0.01, steps=steps, evaluate=False,
                                               device=str(device)))
    assert result.steps == steps and result.ok
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default="digits_mlp,digits_cnn,digits_lstm,diabetes_mlp")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: steadier timings on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    print(f"Probe overhead — {date.today()} — {device} ({name}), {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}; {args.steps} steps, {args.repeats} repeats\n")
    print("| example | plain loop min (s) | probe engine min (s) | ratio of mins | "
          "ratio of medians |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for example in args.examples.split(","):
        prepared = EXAMPLES[example]().prepare(0)
        plain_loop(prepared, 50, device)  # warm-up: allocator, kernels, lazy imports
        probe(prepared, 50, device)
        plain, probed = [], []
        for i in range(args.repeats):  # alternate which goes first
            if i % 2:
                probed.append(probe(prepared, args.steps, device))
            plain.append(plain_loop(prepared, args.steps, device))
            if not i % 2:
                probed.append(probe(prepared, args.steps, device))
        p, q = min(plain), min(probed)
        worst = max(worst, q / p)
        median = statistics.median(probed) / statistics.median(plain)
        print(f"| {example} | {p:.3f} | {q:.3f} | {q / p:.3f} | {median:.3f} |", flush=True)
    print(f"\nworst ratio {worst:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
