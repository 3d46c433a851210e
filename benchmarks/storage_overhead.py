"""Storage overhead per sweep trial (ms), by storage and number of concurrent workers.

Each worker is a process running triage's own sweep loop (``sweeper.work`` with the real
``Objective``: sampling, the OOM check, per-epoch reports and pruning decisions, constraints,
user attributes, heartbeats) on the ``default`` space, with training replaced by a stub that
reports 10 epochs instantly. What remains is the cost of the study itself. The random sampler
is used so that TPE's own compute (which grows with the study, whatever the storage) is not
counted. Reported: wall time x workers / trials, i.e. what each trial costs the worker running
it, and the in-memory storage as the floor. ``grpc`` is PostgreSQL through ``triage
storage-proxy`` (started here on a free local port, on the same machine as the workers and the
database). The share of a trial's wall time is that overhead over trials whose training takes
1 s or 30 s (an upper bound: here every worker hits the storage at once, all the time).

    python benchmarks/storage_overhead.py [--trials 48] [--workers 1,2,4]
        [--storages memory,sqlite,postgresql,grpc,journal,redis]

Target (issue 13): through the proxy, PostgreSQL's overhead per trial at 4 workers lower than
direct, and below 2% of a 30 s trial.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date

URLS = {
    "sqlite": "sqlite:///{tmp}/overhead.db",
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
    "journal": "journal:///{tmp}/overhead.log",
    "redis": "redis://127.0.0.1:6379",
    "grpc": "postgresql://postgres@127.0.0.1:5432/test",  # behind the proxy
}
EPOCHS = 10


def _worker(url: str | None, name: str, trials: int, ready: multiprocessing.Barrier) -> None:
    import optuna

    from triage.examples import EXAMPLES
    from triage.probe import ProbeResult
    from triage.storage import make_storage, quiet_optuna
    from triage.storage.studies import join_study
    from triage.sweeper import SweepSettings, objective
    from triage.sweeper.objective import Objective
    from triage.sweeper.settings import make_pruner
    from triage.sweeper.space_file import parse_space
    from triage.sweeper.worker import trials_room, work

    quiet_optuna(40)

    def stub(prepared, settings, callbacks=()):  # training replaced: reports only
        values = []
        for epoch in range(1, EPOCHS + 1):
            values.append(1.0 / epoch)
            if any(cb.on_epoch_end(epoch, values[-1]) for cb in callbacks):
                break
        return ProbeResult(settings=settings, steps=len(values) * 10, losses=[1.0] * 10,
                           val_loss=values[-1], epoch_val_losses=values)

    objective.run_probe = stub
    task = EXAMPLES["digits_mlp"]()
    # the LR sampled on its own scale: a storage benchmark measures no boundaries
    space = parse_space({"version": 1, "params": {
        "optimizer": {"choices": ["sgd_nesterov", "adam"]},
        "lr": {"low": 1e-4, "high": 0.3, "log": True},
        "batch_size": {"choices": [16, 32, 64, 128]}}}, "storage")
    settings = SweepSettings(trials=trials, budget=None, sampler="random",
                             heartbeat_interval=60)
    storage = make_storage(url, settings.heartbeat_interval, None, settings.max_retry)
    identity = {"command": "sweep", "task": task.name, "space": space.name,
                "space_doc": space.raw, "sampler": "random", "lr_center": None,
                "lr_updater": None}
    study = join_study(storage, name, identity, optuna.samplers.RandomSampler(),
                       make_pruner(settings), storage_url=url)
    run = Objective(task.prepare(0), space, settings, device="cpu", prior=None, dropout=False,
                    penalty=1.0, target=trials, grid=False)
    ready.wait()
    work(study, run, trials_room(trials))


def measure(url: str | None, workers: int, trials: int) -> float:
    """Milliseconds per trial for the worker running it."""
    name = f"overhead-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("fork" if url is None else "spawn")
    if url is None:  # in memory: one process, no sharing
        workers = 1
    ready = context.Barrier(workers + 1)
    procs = [context.Process(target=_worker, args=(url, name, trials, ready))
             for _ in range(workers)]
    for proc in procs:
        proc.start()
    ready.wait()
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    if url is not None and not url.startswith(("sqlite", "journal")):
        import optuna

        from triage.storage import make_storage

        optuna.delete_study(study_name=name, storage=make_storage(url))
    return 1000 * elapsed * workers / trials


@contextlib.contextmanager
def proxy(database: str) -> Iterator[str]:
    """``triage storage-proxy`` in front of ``database``; yields its grpc:// URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "triage.cli", "storage-proxy", "--storage",
                               database, "--host", "127.0.0.1", "--port", str(port)])
    try:
        for _ in range(600):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.1)
        yield f"grpc://127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=48)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--storages", default="memory,sqlite,postgresql,journal,redis")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    print(f"storage_overhead  {date.today()}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} CPUs  {args.trials} trials of {EPOCHS} reported epochs")
    print("| storage | workers | ms/trial | share of a 1 s trial | share of a 30 s trial |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.storages.split(","):
            url = None if kind == "memory" else URLS[kind].format(tmp=tmp)
            with (proxy(url) if kind == "grpc" else contextlib.nullcontext(url)) as where:
                for w in [1] if url is None else counts:
                    ms = measure(where, w, args.trials)
                    print(f"| {kind} | {w} | {ms:.1f} | {ms / (1000 + ms):.2%} | "
                          f"{ms / (30000 + ms):.3%} |", flush=True)


if __name__ == "__main__":
    main()
