"""Find the user's Task from a CLI spec: ``package.module:attr``, ``path/file.py:attr``, or none."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from triage.errors import TaskError
from triage.task import Task

DEFAULT_EXAMPLE = "digits_mlp"


@dataclass(frozen=True)
class TableOptions:
    """How a table TASK is read: the column to predict, the problem kind (None: guessed),
    whether to prepare the features, and the hold-out seed."""

    target: str | None = None
    kind: str | None = None
    preprocess: bool = True
    seed: int = 0
    preprocessing: dict | None = None  # a config's recorded preprocessing, applied as it is


def load_task(spec: str | None, table: TableOptions | None = None) -> Task:
    """Resolve a task spec into a Task.

    Args:
        spec: ``package.module:attr`` or ``path/to/file.py:attr`` where attr is a Task or a
            zero-argument callable returning one; a bundled example's name (``digits_cnn``);
            a table (``.csv``, ``.tsv``, ``.parquet``, ``.csv.gz``; see ``triage.tables``);
            or None for the default bundled example.
        table: how to read a table (its target column, ...); required for a table.

    Raises:
        TaskError: the module cannot be imported, attr is missing or does not give a Task;
            a table cannot be read or has no usable target; table options for a non-table.
    """
    from triage import examples
    from triage.tables import from_table, is_table

    table = table or TableOptions()
    if is_table(spec):
        return from_table(str(spec), table.target, kind=table.kind,
                          preprocess=table.preprocess, seed=table.seed,
                          preprocessing=table.preprocessing)
    if table.target is not None or table.kind is not None or not table.preprocess:
        raise TaskError(f"--target, --kind and --no-preprocess apply to a table TASK (a .csv, "
                        f".tsv or .parquet file), not to {spec or 'the bundled example'!r}")
    if spec is None or spec in examples.EXAMPLES:
        return examples.EXAMPLES[spec or DEFAULT_EXAMPLE]()
    if ":" not in spec:
        raise TaskError(
            f"task {spec!r} has no ':attr' part; write module:attr or path/file.py:attr, or one "
            f"of the examples ({', '.join(examples.EXAMPLES)})"
        )
    where, attr = spec.rsplit(":", 1)
    module = import_file(where) if where.endswith(".py") else _import_module(where)
    if not hasattr(module, attr):
        raise TaskError(f"{where} has no attribute {attr!r}; check the name after ':'")
    value = getattr(module, attr)
    if not isinstance(value, Task) and callable(value):
        try:
            value = value()
        except Exception as exc:
            raise TaskError(
                f"{spec} raised {type(exc).__name__} when called: {exc}; make it return a "
                "triage.Task"
            ) from exc
    if not isinstance(value, Task):
        raise TaskError(
            f"{spec} is a {type(value).__name__}, not a triage.Task; point at a Task or a "
            "function returning one"
        )
    return value


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise TaskError(
            f"cannot import module {name!r} ({exc}); run from the folder that contains it or "
            "give a path like path/to/file.py:attr"
        ) from exc
    except Exception as exc:
        raise TaskError(f"importing {name!r} raised {type(exc).__name__}: {exc}") from exc


def import_file(path: str):
    """Run a Python file as a module (its folder importable while it runs) and return it."""
    file = Path(path)
    if not file.is_file():
        raise TaskError(f"task file {path!r} does not exist; check the path before ':'")
    module_name = f"_triage_task_{abs(hash(file.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise TaskError(f"cannot load {path!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(file.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise TaskError(f"running {path!r} raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(file.resolve().parent))
    return module
