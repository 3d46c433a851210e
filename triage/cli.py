"""The command line. Thin: parse, call one core function, render. Heavy imports stay inside
commands so that ``triage --help`` never loads torch or optuna."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from triage import __version__
from triage.choices import (
    CUSTOMARY_LR,
    DEVICES_HELP,
    PRUNERS,
    SAMPLERS,
    SWEEP_STORAGE,
)
from triage.cli_options import (
    debug_option,
    load,
    load_for_training,
    precision_option,
    sweep_outputs,
    table_options,
    train_hint,
    training_options,
)
from triage.cli_options import workers as planned_workers
from triage.errors import RankLost, SettingsError, TriageError
from triage.torchrun import launched, rank


class TriageGroup(click.Group):
    """Turns every expected failure into one line on stderr and exit code 2 (unless --debug)."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in args or bool(os.environ.get("TRIAGE_DEBUG"))
        extra.pop("standalone_mode", None)
        say = _say if rank() == 0 or debug else _silent  # under torchrun only rank 0 speaks
        try:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if debug:
                raise
            hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            say(f"error: {exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            lost = _rank_lost()
            if lost is not None:
                say(f"error: {lost}")
                sys.exit(3)
            say("interrupted: nothing was written; with --storage, rerunning the same "
                "command resumes from the probes already stored")
            sys.exit(130)
        except TriageError as exc:
            if debug:
                raise
            say(f"error: {exc}")
            sys.exit(3 if isinstance(exc, RankLost) else 2)
        except Exception as exc:
            if debug:
                raise
            if rank() != 0:
                sys.exit(1)  # rank 0 says what stopped the job
            if not _lost_proxy(exc):
                raise
            say("error: lost the storage proxy (grpc://…) mid-run; the study keeps every "
                "finished trial and a running one is retried: start `triage "
                "storage-proxy` again, then rerun the same command")
            sys.exit(3)
        finally:
            if launched() > 1 and "triage.probe.group" in sys.modules:
                sys.modules["triage.probe.group"].finish()


def _say(message: str) -> None:
    click.echo(message, err=True)


def _silent(message: str) -> None:
    pass


def _rank_lost() -> str | None:
    """Why a torchrun job lost a rank, if it did (the interrupt was torchrun's SIGTERM)."""
    group = sys.modules.get("triage.probe.group")
    job = group.current() if group is not None else None
    if job is None or job.lost is None:
        return None
    return str(group.lost_message(job))  # type: ignore[union-attr]


def _lost_proxy(exc: BaseException) -> bool:
    """A gRPC error from the storage proxy (grpc is only imported by a grpc:// storage)."""
    grpc = sys.modules.get("grpc")
    return grpc is not None and isinstance(exc, grpc.RpcError)


@click.group(cls=TriageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="triage")
@click.option("--dist-backend", default="auto", show_default=True,
              help="Under torchrun: the process group's backend, auto (NCCL for CUDA "
                   "tensors where there are GPUs, gloo for the rest), gloo or nccl.")
@debug_option
def cli(dist_backend: str, debug: bool) -> None:
    """Automated, measured procedures for training neural networks.

    TASK is package.module:attr or path/to/file.py:attr (a triage.Task or a zero-argument
    function returning one), a table (.csv, .tsv, .parquet, .csv.gz) with --target COL, or the
    name of a bundled example; without it, commands run on the bundled digits MLP example.
    """
    if launched() > 1:  # torchrun started this command on every rank
        from triage.probe import follower, group

        job = group.start(dist_backend)
        if not job.leader:  # a follower: rank 0 runs the command, this rank its probes
            follower.serve(job)
            sys.exit(0)


@cli.command("lr-find")
@click.argument("task", required=False)
@training_options
@table_options
@click.option("--steps", type=int, default=100, show_default=True,
              help="Probe length that defines divergence (the documents' first 100 iterations).")
@click.option("--max-steps", type=int, default=2000, show_default=True,
              help="Training steps all probes together may use.")
@click.option("--parallel", default="auto", show_default=True,
              help="Probes trained at once: auto (up to 3 in worker processes on a multi-core "
                   "CPU, 1 on a GPU) or N (1: one after another). The recommendation does not "
                   "depend on it.")
@click.option("--storage", default=None,
              help="Optuna storage (sqlite:///f.db, postgresql://…, redis://…, or a journal file "
                   "path); rerunning resumes from it. Default: in memory.")
@click.option("--study", "study_name", default=None,
              help="Study name (default triage-lr-find-<task>).")
@click.option("--out", default="triage.yaml", show_default=True,
              help="Where to write the recommended config.")
@click.option("--plot", default=None, help="PNG plot path (default: beside --out, .png).")
@click.option("--no-plot", is_flag=True, help="Do not draw the plot.")
@click.option("--world-size", type=int, default=None,
              help="Plan a data-parallel job of this many workers, each with --batch-size: "
                   "probes train at the effective batch on this device (one micro-batch per "
                   "worker accumulated a step), then the same search for one worker says "
                   "whether the linear or square-root rule would have held. Under torchrun: "
                   "its processes, each probe a DDP job across them. Default 1.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the config document as JSON on stdout (and nothing else there).")
@debug_option
def lr_find_command(task: str | None, optimizer: str | None, momentum: float, nesterov: bool,
                    batch_size: int, init: str, seed: int, device: str, precision: str,
                    target: str | None, kind: str | None, no_preprocess: bool, steps: int,
                    max_steps: int, parallel: str, storage: str | None, study_name: str | None,
                    out: str, plot: str | None, no_plot: bool, world_size: int | None,
                    as_json: bool,
                    debug: bool) -> None:
    """Find a learning rate: three-LR probe, divergence boundary, back-off, by evidence."""
    from rich.console import Console

    from triage import report
    from triage.atomic import check_writable
    from triage.loading import DEFAULT_EXAMPLE
    from triage.lr_finder import LRFindSettings, lr_find
    from triage.storage import quiet_optuna

    err = Console(stderr=True)
    settings = LRFindSettings(optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                              batch_size=batch_size, init=init, seed=seed, device=device,
                              steps=steps, max_steps=max_steps, precision=precision,
                              parallel=parallel, world_size=planned_workers(world_size))
    plot_path = None if no_plot else plot or str(Path(out).with_suffix(".png"))
    check_writable(out, "config")
    if plot_path:
        check_writable(plot_path, "plot")
    if task is None:
        err.print(f"No TASK given: running on the bundled example '{DEFAULT_EXAMPLE}' "
                  "(an MLP on scikit-learn's digits).", highlight=False)
    loaded = load(task, target, kind, no_preprocess, seed)
    _notes(loaded, err)
    quiet_optuna()
    with report.lr_find_progress(err, max_steps) as (on_plan, on_probe):
        config = lr_find(loaded, settings, storage=storage, study_name=study_name,
                         on_probe=on_probe, on_plan=on_plan)
    config.save(out)
    if plot_path:
        report.plot_lr_find(config, plot_path)
    if as_json:
        click.echo(json.dumps(config.to_dict()))
    summary = err if as_json else Console()
    summary.print(report.lr_find_summary(config))
    summary.print(f"config written to {out}" + (f", plot to {plot_path}" if plot_path else ""),
                  highlight=False)
    summary.print(train_hint(task, out), highlight=False, soft_wrap=True)


@cli.command("doctor")
@click.argument("task", required=False)
@click.option("--lr", type=float, default=None,
              help="The learning rate you train with (default: the updater's customary one, "
                   + ", ".join(f"{k} {v:g}" for k, v in CUSTOMARY_LR.items())
                   + "; a torch.optim class's or the Task factory's own default lr).")
@training_options
@table_options
@click.option("--out", default=None,
              help="Write your settings with doctor's setting fixes applied (LR, init, "
                   "clipping, batch size) as a config here.")
@click.option("--budget", type=float, default=60.0, show_default=True,
              help="Seconds the diagnosis should take: probes are sized by the measured step "
                   "time (and say when they were shortened); 0 for no limit.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Try each warning's fix a probe can apply (LR, init, clipping, inputs or "
                   "targets standardised) within the budget: findings whose fix does not help "
                   "become info and leave --out; causes are ranked by what their fix repaired.")
@click.option("--all", "show_all", is_flag=True,
              help="Show every finding: by default only the causes at warning or above, "
                   "strongest first, at most 3 (--json always has every one).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"findings": [...]} as JSON on stdout (and nothing else there).')
@debug_option
def doctor_command(task: str | None, lr: float | None, optimizer: str | None, momentum: float,
                   nesterov: bool, batch_size: int, init: str, seed: int, device: str,
                   precision: str, target: str | None, kind: str | None, no_preprocess: bool,
                   out: str | None, budget: float, verify: bool, show_all: bool, as_json: bool,
                   debug: bool) -> None:
    """Diagnose why a network trains badly: data, model at init, then short probes; ranked
    findings with evidence and fixes. Exit code 1 when a finding is an error."""
    from rich.console import Console

    from triage import report
    from triage.atomic import check_writable
    from triage.doctor import DoctorSettings, doctor
    from triage.loading import DEFAULT_EXAMPLE

    err = Console(stderr=True)
    if not (budget >= 0 and math.isfinite(budget)):
        raise click.BadParameter(f"must be seconds >= 0 (0: no limit), got {budget!r}",
                                 param_hint="--budget")
    settings = DoctorSettings(lr=lr, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                              batch_size=batch_size, init=init, seed=seed, device=device,
                              precision=precision, budget=budget or None, verify=verify,
                              world_size=planned_workers(None))
    if out:
        check_writable(out, "config")
    if task is None:
        err.print(f"No TASK given: diagnosing the bundled example '{DEFAULT_EXAMPLE}'.",
                  highlight=False)
    loaded = load(task, target, kind, no_preprocess, seed)
    _notes(loaded, err)
    raw = None
    if loaded.data and loaded.data.get("preprocessing") is not None:  # a prepared table
        raw = load(task, target, kind, True, seed)
    with report.stage_progress(err) as on_stage:
        diagnosis = doctor(loaded, settings, on_stage=on_stage, raw=raw)
    if out:
        diagnosis.config.save(out)
    if as_json:
        click.echo(json.dumps(diagnosis.to_dict()))
    console = err if as_json else Console()
    console.print(report.doctor_summary(diagnosis, show_all))
    if out:
        console.print(f"config with the setting fixes written to {out}", highlight=False)
        console.print(train_hint(task, out), highlight=False, soft_wrap=True)
    if diagnosis.errors:
        raise SystemExit(1)


@cli.command("sweep")
@click.argument("task", required=False)
@click.option("--space", default="default", show_default=True,
              help="Search space: a YAML file, or a bundled one (default, cnn, rnn).")
@click.option("--budget", type=float, default=20.0, show_default=True,
              help="Full trainings' worth of training steps the sweep may spend (lr-find's "
                   "included with --from); the number of trials is an outcome.")
@click.option("--trials", type=int, default=None,
              help="At most this many search trials (shared by all workers).")
@click.option("--timeout", type=float, default=None,
              help="Seconds after which this worker starts no new trial.")
@click.option("--from", "from_config", default=None,
              help="An lr-find config: the LR search is centred on its learning rate.")
@click.option("--sampler", default="priorband", show_default=True,
              help=", ".join(SAMPLERS) + " (priorband: lr-find's configuration and the "
                   "documents' defaults, the incumbent's neighbours and TPE, mixed).")
@click.option("--pruner", default="hyperband", show_default=True,
              help=", ".join(PRUNERS) + " (on the validation loss, every ninth of the budget).")
@click.option("--storage", default=None,
              help="Optuna storage: sqlite:///f.db, postgresql://…, mysql+pymysql://…, "
                   "redis://…, journal:///path/f.log or a path (journal file, NFS-safe), or "
                   f":memory:. Default: the journal file {SWEEP_STORAGE} here; rerunning the "
                   "same command resumes.")
@click.option("--study", "study_name", default=None,
              help="Study to create or join (default triage-sweep-<task>-<space>).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds every trial, the hold-out split and the sampler.")
@click.option("--device", default="auto", show_default=True,
              help=DEVICES_HELP + "; auto follows CUDA_VISIBLE_DEVICES / SLURM_LOCALID.")
@precision_option
@table_options
@click.option("--heartbeat", type=int, default=60, show_default=True,
              help="Seconds between heartbeats; a trial silent for twice as long is retried.")
@click.option("--max-retry", type=int, default=3, show_default=True,
              help="How often a dead worker's trial is queued again.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine sharing the study (the CPU cores are "
                   "divided among them; with --device auto, one GPU each when several are "
                   "visible).")
@click.option("--world-size", type=int, default=None,
              help="Every trial for a data-parallel job of this many workers, each with the "
                   "trial's batch size (accumulated on this device). Under torchrun: its "
                   "processes, each trial a DDP job across them. Default 1.")
@sweep_outputs
@debug_option
def sweep_command(task: str | None, space: str, budget: float, trials: int | None,
                  timeout: float | None,
                  from_config: str | None, sampler: str, pruner: str, storage: str | None,
                  study_name: str | None, seed: int, device: str, precision: str,
                  target: str | None, kind: str | None, no_preprocess: bool, heartbeat: int,
                  max_retry: int, workers: int, world_size: int | None, out: str,
                  table: str | None,
                  plot: str | None, no_plot: bool, as_json: bool, debug: bool) -> None:
    """Search the rest (updater, batch size, init, L2, dropout, step schedule) on an Optuna
    study, with pruning, infeasible divergence/OOM, and many workers per study."""
    from rich.console import Console

    from triage import report
    from triage.config import load_config
    from triage.storage import quiet_optuna, redact
    from triage.sweeper import LRPrior, SweepSettings, load_space, sweep
    from triage.sweeper.run import default_study
    from triage.sweeper.settings import shared_storage
    from triage.sweeper.workers import Job, run_workers

    err = Console(stderr=True)
    settings = SweepSettings(trials=trials, budget=budget, timeout=timeout, sampler=sampler,
                             pruner=pruner,
                             seed=seed, device=device, heartbeat_interval=heartbeat,
                             max_retry=max_retry, precision=precision,
                             world_size=planned_workers(world_size))
    if workers > 1 and launched() > 1:
        raise click.BadParameter(f"forked workers cannot join torchrun's ranks, got {workers}; "
                                 "under torchrun one process (rank 0) runs the sweep, every "
                                 "trial across the ranks", param_hint="--workers")
    search_space = load_space(space)
    prior = None
    if from_config:
        prior = LRPrior.of(load_config(from_config), settings.world_size)
    outputs = _check_outputs(out, table, plot, no_plot)
    url = shared_storage(storage, workers)
    loaded = load(task, target, kind, no_preprocess, seed)
    _notes(loaded, err)
    if loaded.optimizer is not None and loaded.updater not in search_space.updaters():
        err.print(f"The Task brings its own optimizer ({loaded.updater}), which space "
                  f"{search_space.name!r} does not search ({', '.join(search_space.updaters())})"
                  f"; add {loaded.updater} to the space's optimizer choices to search it too.",
                  highlight=False)
    quiet_optuna(logging.ERROR)
    try:
        with report.sweep_progress(err, trials) as (on_budget, on_trial):
            if workers == 1:
                summary = sweep(loaded, search_space, settings, prior=prior, storage=url,
                                study_name=study_name, on_trial=on_trial, on_budget=on_budget)
            else:
                assert url is not None
                job = Job(task, (target, kind, no_preprocess), space, settings, prior, url,
                          study_name)
                summary = run_workers(job, workers, loaded, on_trial, on_budget)
    except KeyboardInterrupt:
        name = study_name or default_study(loaded, search_space)
        where = f"storage {redact(url)!r}" if url else "memory (lost: use --storage to keep it)"
        click.echo(f"interrupted: study {name!r} in {where} keeps every finished trial and "
                   "queued the running one again; rerun the same command to resume", err=True)
        raise SystemExit(130) from None
    _render_sweep(summary, *outputs, as_json, err)
    if summary.best is not None:
        err.print(train_hint(task, out), highlight=False, soft_wrap=True)
    if url:
        err.print(f"study {summary.study!r} in {redact(url)}: rerun to resume or add trials; "
                  f"'triage report --storage {redact(url)} --study {summary.study}' rebuilds "
                  "this report", highlight=False)


@cli.command("train")
@click.argument("task", required=False)
@click.option("--config", "config_path", required=True,
              help="The config to train with (from lr-find, doctor --out or sweep).")
@click.option("--epochs", type=int, default=None,
              help="Epochs to train (default: the task's budget).")
@click.option("--patience", type=int, default=None,
              help="Stop after this many epochs without a better validation loss; the best "
                   "epoch's weights are kept either way.")
@click.option("--out-dir", default="triage-train", show_default=True,
              help="Where model.pt, metrics.json and curves.png are written.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the model's initialisation and the data order.")
@click.option("--device", default="auto", show_default=True, help=DEVICES_HELP + ".")
@table_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the metrics document as JSON on stdout (and nothing else there).")
@debug_option
def train_command(task: str | None, config_path: str, epochs: int | None,
                  patience: int | None, out_dir: str, seed: int, device: str,
                  target: str | None, kind: str | None, no_preprocess: bool, as_json: bool,
                  debug: bool) -> None:
    """Train the full budget with a config, exactly as it was measured: writes the best
    epoch's weights, the per-epoch metrics and a plot of the curves."""
    from rich.console import Console

    from triage import atomic, report
    from triage.atomic import check_writable
    from triage.config import load_config
    from triage.trainer import TrainSettings, check_config, train

    err = Console(stderr=True)
    settings = TrainSettings(epochs=epochs, patience=patience, seed=seed, device=device)
    config = load_config(config_path)
    if launched() > 1 and config.world_size != launched():
        raise SettingsError(
            f"the config is for {config.world_size} worker(s) of batch {config.batch_size}, and "
            f"torchrun started {launched()}; run it with --nproc-per-node {config.world_size}, "
            f"or plan for {launched()} with 'torchrun --nproc-per-node {launched()} -m triage "
            "lr-find'")
    loaded = load_for_training(task, config, target, kind, no_preprocess)
    check_config(loaded, config)
    folder = Path(out_dir)  # created only once everything else is known to be right
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot create {out_dir!r} ({exc.strerror})",
                                 param_hint="--out-dir") from None
    paths = {name: check_writable(folder / name, name)
             for name in ("model.pt", "metrics.json", "curves.png", "checkpoint.pt")}
    _notes(loaded, err)
    total = epochs or loaded.epochs
    finished: list[int] = []

    def on_epoch(epoch: Any, weights: dict[str, Any]) -> None:
        _save_weights(weights, paths["checkpoint.pt"])  # what a Ctrl-C leaves behind
        finished.append(epoch.epoch)
        err.print(report.epoch_line(epoch, total), highlight=False)

    try:
        result = train(loaded, config, settings, on_epoch=on_epoch)
    except KeyboardInterrupt:
        where = (f"{paths['checkpoint.pt']} holds epoch {finished[-1]}'s weights" if finished
                 else "no epoch had finished, nothing was written")
        click.echo(f"interrupted: {where}", err=True)
        raise SystemExit(130) from None
    _save_weights(result.state_dict, paths["model.pt"])
    metrics = result.metrics()
    atomic.write_text(paths["metrics.json"], json.dumps(metrics, indent=2) + "\n")
    if result.curve:
        report.plot_curves(result, str(paths["curves.png"]))
    paths["checkpoint.pt"].unlink(missing_ok=True)
    if as_json:
        click.echo(json.dumps(metrics))
    (err if as_json else Console()).print(report.train_summary(result, out_dir))


def _save_weights(weights: dict[str, Any], path: Path) -> None:
    import torch

    from triage import atomic

    with atomic.atomic_path(path) as tmp:
        torch.save(weights, tmp)


@cli.command("report")
@click.option("--storage", required=True, help="The sweep's Optuna storage URL or journal path.")
@click.option("--study", "study_name", default=None,
              help="Study name (may be left out when the storage holds one sweep study).")
@sweep_outputs
@debug_option
def report_command(storage: str, study_name: str | None, out: str, table: str | None,
                   plot: str | None, no_plot: bool, as_json: bool, debug: bool) -> None:
    """Rebuild a sweep's config, trials table and plot from its storage, at any time."""
    from rich.console import Console

    from triage.sweeper import load_summary

    outputs = _check_outputs(out, table, plot, no_plot)
    summary = load_summary(storage, study_name)
    _render_sweep(summary, *outputs, as_json, Console(stderr=True))


@cli.command("storage-proxy")
@click.option("--storage", required=True,
              help="The database the workers share (postgresql://…, mysql+pymysql://…, "
                   "sqlite:///…).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The proxy has no authentication: anyone who reaches "
                   "it can read and rewrite every study. Open it to the workers' nodes with "
                   "this node's address on the cluster's private network (0.0.0.0: every "
                   "interface), never to the outside.")
@click.option("--port", type=click.IntRange(1, 65535), default=13000, show_default=True)
@debug_option
def storage_proxy_command(storage: str, host: str, port: int, debug: bool) -> None:
    """Serve a database to many workers through Optuna's gRPC proxy; workers then pass
    --storage grpc://THIS-HOST:PORT. Runs until Ctrl-C."""
    from triage.storage import quiet_optuna, redact
    from triage.storage.proxy import proxied_storage, serve

    quiet_optuna()
    proxied_storage(storage)  # a bad URL or a database that is down: one line, before listening
    click.echo(f"serving {redact(storage)} on grpc://{host}:{port} (Ctrl-C stops)", err=True)
    serve(storage, host, port)


def _notes(task: Any, console: Any) -> None:
    """What the task's adapter wants the user to know before the command runs."""
    for note in task.notes:
        console.print(f"note: {note}", highlight=False)


def _check_outputs(out: str, table: str | None, plot: str | None,
                   no_plot: bool) -> tuple[str, str | None, str | None]:
    """Fail before any work when an output cannot be written."""
    from triage.atomic import check_writable
    from triage.errors import OutputError

    if table is not None and not table.lower().endswith((".csv", ".parquet")):
        raise OutputError(f"table {table!r}: use a .csv or .parquet file name")
    plot_path = None if no_plot else plot or str(Path(out).with_suffix(".png"))
    for path, what in ((out, "config"), (table, "table"), (plot_path, "plot")):
        if path:
            check_writable(path, what)
    return out, table, plot_path


def _render_sweep(summary: Any, out: str, table: str | None, plot: str | None, as_json: bool,
                  err: Any) -> None:
    from rich.console import Console

    from triage import report
    from triage.sweeper.summary import write_table

    if table:
        write_table(summary.table, table)
    if plot and len(summary.table):
        report.plot_sweep(summary, plot)
    if summary.best is not None:
        summary.best.save(out)
    console = err if as_json else Console()
    console.print(report.sweep_summary(summary))
    written = [f"config to {out}"] if summary.best is not None else []
    written += [f"table to {table}"] if table else []
    written += [f"plot to {plot}"] if plot and len(summary.table) else []
    if written:
        console.print("wrote " + ", ".join(written), highlight=False)
    if summary.best is None:
        click.echo("error: no trial finished with a finite validation loss; see the table "
                   "for why (diverged, out of memory, failed) and fix the space or the task",
                   err=True)
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(summary.best.to_dict()))


def main() -> None:
    """Console-script entry point.

    An interrupted command exits with 130 after saying how to resume. It leaves with
    ``os._exit`` once its output is flushed: a KeyboardInterrupt that passed through code run
    by ``exec``/``eval`` of a string (dataclass and namedtuple creation, annotation lookups)
    makes CPython kill the process with SIGINT at exit even after it was handled, which a
    scheduler or shell script would read as a crash instead of exit code 130.
    """
    from triage import interrupt

    try:
        with interrupt.recorded():
            cli.main(prog_name="triage")
    except SystemExit as exc:
        if exc.code != 130:
            raise
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(130)


if __name__ == "__main__":
    main()
