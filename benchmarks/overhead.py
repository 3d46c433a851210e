"""Probe-engine overhead: ``run_probe`` versus a plain hand-written PyTorch loop.

Both train the same fresh model, on the same data in the same order, for the same number of
steps; the plain loop does nothing but train (no logging, no checks). Runs alternate (which of
the two goes first alternates too), and each adjacent pair gives one ratio; the table shows
the median of ``--repeats`` paired ratios, which cancels the slow drift of a shared virtual
machine far better than comparing two separate minima. Wall time and process CPU time are both
shown. Target: probe / plain <= 1.10 (CPU time on the CPU, wall time on a GPU, where the host's
CPU time is not the cost). An example named ``NAME+step`` is the same program brought with a
custom training step (``Task(step=...)`` computing the same loss); its plain loop calls that
step (target for it: <= 1.05).

    python benchmarks/overhead.py [--steps 1000] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import time
from datetime import date

import torch

from triage.data import TensorData, batches
from triage.examples import EXAMPLES
from triage.optimizers import make_optimizer
from triage.probe import ProbeSettings, run_probe
from triage.probe.device import resolve_device
from triage.rng import seeded
from triage.task import PreparedTask, Task

Timing = tuple[float, float]  # (wall seconds, process CPU seconds)


def _clock() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing, device: torch.device) -> Timing:
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def plain_loop(prepared: PreparedTask, steps: int, device: torch.device) -> Timing:
    """The loop a user would write."""
    started = _clock()
    with seeded(0) as generator:
        model = prepared.task.model().to(device)
        optimizer = make_optimizer("sgd", model.parameters(), 0.01)
        train = prepared.train.to(device) if isinstance(prepared.train, TensorData) else \
            prepared.train
        step, user_step = 0, prepared.task.step
        while step < steps:
            for xb, yb in batches(train, 32, device, generator):
                if user_step is not None:
                    loss = user_step(model, (xb, yb))
                else:
                    loss = prepared.task.loss_fn(model(xb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if step >= steps:
                    break
    return _since(started, device)


def probe(prepared: PreparedTask, steps: int, device: torch.device) -> Timing:
    started = _clock()
    result = run_probe(prepared, ProbeSettings(lr=0.01, steps=steps, evaluate=False,
                                               device=str(device)))
    assert result.steps == steps and result.ok
    return _since(started, device)


def _task(example: str) -> Task:
    """A bundled example; ``NAME+step`` brings it with a custom step computing the same loss."""
    name, _, form = example.partition("+")
    task = EXAMPLES[name]()
    if form == "step":
        loss_fn = task.loss_fn
        task = dataclasses.replace(
            task, step=lambda model, batch: loss_fn(model(batch[0]), batch[1]))
    return task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default="digits_mlp,digits_cnn,digits_lstm,diabetes_mlp,"
                                              "digits_mlp+step,digits_cnn+step")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: steadier timings on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    print(f"Probe overhead — {date.today()} — {device} ({name}), {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}; {args.steps} steps, {args.repeats} repeats\n")
    print("| example | plain wall (s) | probe wall (s) | wall ratio | plain CPU (s) | "
          "probe CPU (s) | CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    judged = "wall" if device.type == "cuda" else "CPU"
    worst = 0.0
    for example in args.examples.split(","):
        prepared = _task(example).prepare(0)
        plain_loop(prepared, 50, device)  # warm-up: allocator, kernels, lazy imports
        probe(prepared, 50, device)
        pairs = []
        for i in range(args.repeats):  # alternate which goes first
            first, second = (probe, plain_loop) if i % 2 else (plain_loop, probe)
            a, b = first(prepared, args.steps, device), second(prepared, args.steps, device)
            pairs.append((b, a) if i % 2 else (a, b))
        plain = [p for p, _ in pairs]
        probed = [q for _, q in pairs]
        wall = statistics.median(q[0] / p[0] for p, q in pairs)
        cpu = statistics.median(q[1] / p[1] for p, q in pairs)
        worst = max(worst, wall if judged == "wall" else cpu)
        print(f"| {example} | {statistics.median(p[0] for p in plain):.3f} | "
              f"{statistics.median(q[0] for q in probed):.3f} | {wall:.3f} | "
              f"{statistics.median(p[1] for p in plain):.3f} | "
              f"{statistics.median(q[1] for q in probed):.3f} | {cpu:.3f} |", flush=True)
    print(f"\nworst {judged}-time ratio {worst:.3f} (target <= 1.10); times are medians, ratios "
          "medians of paired runs")


if __name__ == "__main__":
    main()
