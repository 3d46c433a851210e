"""The command line. Thin: parse, call one core function, render. Heavy imports stay inside
commands so that ``triage --help`` never loads torch or optuna."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from triage import __version__
from triage.choices import DEVICES_HELP, INITS, OPTIMIZERS
from triage.errors import TriageError


class TriageGroup(click.Group):
    """Turns every expected failure into one line on stderr and exit code 2 (unless --debug)."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in args or bool(os.environ.get("TRIAGE_DEBUG"))
        extra.pop("standalone_mode", None)
        try:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if debug:
                raise
            hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("interrupted: nothing was written; with --storage, rerunning the same "
                       "command resumes from the probes already stored", err=True)
            sys.exit(130)
        except TriageError as exc:
            if debug:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


debug_option = click.option("--debug", is_flag=True, help="Show tracebacks for errors.")


@click.group(cls=TriageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="triage")
@debug_option
def cli(debug: bool) -> None:
    """Automated, measured procedures for training neural networks.

    TASK is package.module:attr or path/to/file.py:attr (a triage.Task or a zero-argument
    function returning one), or the name of a bundled example; without it, commands run on the
    bundled digits MLP example.
    """


@cli.command("lr-find")
@click.argument("task", required=False)
@click.option("--optimizer", default="sgd", show_default=True,
              help=f"Updater: {', '.join(OPTIMIZERS)}.")
@click.option("--momentum", type=float, default=0.9, show_default=True,
              help="Momentum for sgd and rmsprop.")
@click.option("--nesterov/--no-nesterov", default=True, show_default=True,
              help="Nesterov momentum for sgd.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--init", default="default", show_default=True,
              help=f"Weight init: {', '.join(INITS)}.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds every probe; the same seed gives the same result.")
@click.option("--device", default="auto", show_default=True, help=DEVICES_HELP + ".")
@click.option("--steps", type=int, default=100, show_default=True,
              help="Probe length that defines divergence (the documents' first 100 iterations).")
@click.option("--max-steps", type=int, default=2000, show_default=True,
              help="Training steps all probes together may use.")
@click.option("--storage", default=None,
              help="Optuna storage (sqlite:///f.db, postgresql://…, redis://…, or a journal file "
                   "path); rerunning resumes from it. Default: in memory.")
@click.option("--study", "study_name", default=None,
              help="Study name (default triage-lr-find-<task>).")
@click.option("--out", default="triage.yaml", show_default=True,
              help="Where to write the recommended config.")
@click.option("--plot", default=None, help="PNG plot path (default: beside --out, .png).")
@click.option("--no-plot", is_flag=True, help="Do not draw the plot.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the config document as JSON on stdout (and nothing else there).")
@debug_option
def lr_find_command(task: str | None, optimizer: str, momentum: float, nesterov: bool,
                    batch_size: int, init: str, seed: int, device: str, steps: int,
                    max_steps: int, storage: str | None, study_name: str | None, out: str,
                    plot: str | None, no_plot: bool, as_json: bool, debug: bool) -> None:
    """Find a learning rate: three-LR probe, divergence boundary, back-off, by evidence."""
    from rich.console import Console

    from triage import report
    from triage.atomic import check_writable
    from triage.loading import DEFAULT_EXAMPLE, load_task
    from triage.lr_finder import base_settings, lr_find
    from triage.study import quiet_optuna

    err = Console(stderr=True)
    base_settings(optimizer=optimizer, momentum=momentum, nesterov=nesterov,  # fail fast
                  batch_size=batch_size, init=init, seed=seed, device=device, steps=steps,
                  max_steps=max_steps)
    plot_path = None if no_plot else plot or str(Path(out).with_suffix(".png"))
    check_writable(out, "config")
    if plot_path:
        check_writable(plot_path, "plot")
    if task is None:
        err.print(f"No TASK given: running on the bundled example '{DEFAULT_EXAMPLE}' "
                  "(an MLP on scikit-learn's digits).", highlight=False)
    loaded = load_task(task)
    quiet_optuna()
    with report.lr_find_progress(err, max_steps) as on_probe:
        config = lr_find(loaded, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                         batch_size=batch_size, init=init, seed=seed, device=device,
                         steps=steps, max_steps=max_steps, storage=storage,
                         study_name=study_name, on_probe=on_probe)
    config.save(out)
    if plot_path:
        report.plot_lr_find(config, plot_path)
    if as_json:
        click.echo(json.dumps(config.to_dict()))
    summary = err if as_json else Console()
    summary.print(report.lr_find_summary(config))
    summary.print(f"config written to {out}" + (f", plot to {plot_path}" if plot_path else ""),
                  highlight=False)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="triage")


if __name__ == "__main__":
    main()
