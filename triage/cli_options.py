"""The option groups the commands share, and how a command's TASK argument becomes a Task.

Kept apart from ``cli.py`` (the commands) and free of heavy imports: ``triage --help`` builds
these without loading torch or optuna.
"""

from __future__ import annotations

import shlex
from typing import Any

import click

from triage.choices import DEVICES_HELP, INITS, OPTIMIZER_HELP
from triage.errors import SettingsError
from triage.torchrun import launched

debug_option = click.option("--debug", is_flag=True, help="Show tracebacks for errors.")


def training_options(command: Any) -> Any:
    """The user's training settings, as ``lr-find`` and ``doctor`` both take them."""
    options = [
        click.option("--optimizer", default=None,
                     help=f"Updater: {OPTIMIZER_HELP}. Default: the Task's own optimizer when "
                          "it brings one, else sgd."),
        click.option("--momentum", type=float, default=0.9, show_default=True,
                     help="Momentum for sgd and rmsprop."),
        click.option("--nesterov/--no-nesterov", default=True, show_default=True,
                     help="Nesterov momentum for sgd."),
        click.option("--batch-size", type=int, default=32, show_default=True),
        click.option("--init", default="default", show_default=True,
                     help=f"Weight init: {', '.join(INITS)}."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seeds every probe; the same seed gives the same result."),
        click.option("--device", default="auto", show_default=True, help=DEVICES_HELP + "."),
        precision_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def table_options(command: Any) -> Any:
    """How a table TASK (.csv, .tsv, .parquet) is read."""
    options = [
        click.option("--target", default=None,
                     help="A table's column to predict (required for a table TASK)."),
        click.option("--kind", type=click.Choice(["classification", "regression"]),
                     default=None, help="A table's problem (default: guessed from the target)."),
        click.option("--no-preprocess", is_flag=True,
                     help="Hand a table's raw numeric columns over (no scaling, encoding or "
                          "imputation)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load(task: str | None, target: str | None, kind: str | None, no_preprocess: bool,
          seed: int) -> Any:
    from triage.loading import TableOptions

    return _load(task, TableOptions(target, kind, not no_preprocess, seed))


def _load(spec: str | None, options: Any) -> Any:
    """``load_task``; under torchrun, the other ranks load the same task (they train their
    share of its probes)."""
    from triage.loading import load_task

    task = load_task(spec, options)
    if launched() > 1:
        from triage.probe import group

        job = group.current()
        if job is not None:
            job.announce(spec, options, task)
    return task


def workers(given: int | None) -> int:
    """The data-parallel workers a command plans for: ``--world-size``, or torchrun's
    processes under torchrun (where ``--world-size``, if given, must agree)."""
    ranks = launched()
    if given is not None and ranks > 1 and given != ranks:
        raise SettingsError(f"--world-size {given} disagrees with the {ranks} processes torchrun "
                            f"started (WORLD_SIZE={ranks}); drop --world-size under torchrun, "
                            f"or start {given} with --nproc-per-node")
    return given if given is not None else ranks


precision_option = click.option(
    "--precision", default="32", show_default=True,
    help="32, bf16 (bfloat16 autocast) or 16-mixed (float16 autocast with loss scaling, CUDA "
         "only); it moves the divergence boundary, so probe in the precision you train in.")


def sweep_outputs(command: Any) -> Any:
    """The outputs ``sweep`` and ``report`` share: config, trials table, plot, JSON."""
    options = [
        click.option("--out", default="triage-sweep.yaml", show_default=True,
                     help="Where to write the best trial as a recommended config."),
        click.option("--table", default=None,
                     help="Write all trials to this .csv or .parquet file."),
        click.option("--plot", default=None, help="PNG plot path (default: beside --out, .png)."),
        click.option("--no-plot", is_flag=True, help="Do not draw the plot."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the config document as JSON on stdout (and nothing else there)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_for_training(task: str | None, config: Any, target: str | None, kind: str | None,
                       no_preprocess: bool) -> Any:
    """The TASK as the config saw it: a table is read with the config's target, kind, split
    and recorded preprocessing unless the options say otherwise."""
    from triage.loading import TableOptions
    from triage.tables import is_table

    data = config.data or {}
    if not is_table(task) or not data:
        return load(task, target, kind, no_preprocess, 0)
    recorded = data.get("preprocessing")
    options = TableOptions(target or data.get("target"), kind or data.get("kind"),
                           not no_preprocess and recorded is not None,
                           data.get("split", {}).get("seed", 0), recorded)
    return _load(task, options)


def train_hint(task: str | None, config: str) -> str:
    """The exact command that trains the full budget with a config just written."""
    spec = f" {shlex.quote(task)}" if task else ""
    return f"train with it: triage train{spec} --config {shlex.quote(config)}"
