"""Names users may choose from; kept free of heavy imports so the CLI can show them cheaply."""

from __future__ import annotations

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")  # triage's; any torch.optim class too
TASK_OPTIMIZER = "task"  # the Task's own optimizer factory
OPTIMIZER_HELP = (f"{', '.join(OPTIMIZERS)}, any torch.optim class by name (Adadelta, LBFGS, "
                  f"NAdam, ...), or {TASK_OPTIMIZER} (the Task's own)")
INITS = ("default", "xavier", "he", "lecun")
DEVICES_HELP = "auto, cpu, cuda or cuda:N"
# Numeric precision of training: float32; bfloat16 autocast; float16 autocast with loss scaling.
PRECISIONS = ("32", "bf16", "16-mixed")
SAMPLERS = ("priorband", "tpe", "random", "grid")
PRUNERS = ("hyperband", "median", "none")
SWEEP_STORAGE = "triage-studies.log"  # the default sweep storage: a journal file, NFS-safe
# The LR each updater is customarily started at: doctor's default when --lr is not given.
CUSTOMARY_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}

# An updater is an optimizer with its Nesterov flag: the documents' default, SGD with Nesterov
# momentum, is the updater "sgd_nesterov"; search spaces and LR priors name updaters.
NESTEROV = "sgd_nesterov"
UPDATERS = ("sgd", NESTEROV, "adam", "adamw", "rmsprop", "adagrad")


def updater_name(optimizer: str, nesterov: bool) -> str:
    """The updater an optimizer setting is (``sgd`` with Nesterov is ``sgd_nesterov``)."""
    return NESTEROV if optimizer == "sgd" and nesterov else optimizer


def updater_optimizer(updater: str) -> tuple[str, bool]:
    """(optimizer, nesterov) for an updater name: the inverse of ``updater_name``."""
    return ("sgd", True) if updater == NESTEROV else (updater, False)
