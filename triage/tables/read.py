"""Reading a table (CSV, TSV, gzipped CSV, Parquet) into a DataFrame, with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from triage.errors import TaskError, first_line

SUFFIXES = (".csv", ".tsv", ".parquet", ".csv.gz", ".tsv.gz")


def is_table(spec: str | os.PathLike[str] | None) -> bool:
    """Whether a TASK spec names a table file (by its suffix)."""
    return spec is not None and str(spec).lower().endswith(SUFFIXES)


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The table at ``path``, read with pandas.

    Raises:
        TaskError: the file is missing, unreadable, or holds no rows.
    """
    file = Path(path)
    if not file.is_file():
        raise TaskError(f"table {str(path)!r} does not exist; check the path")
    name = file.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pd.read_parquet(file)
        else:
            sep = "\t" if name.endswith((".tsv", ".tsv.gz")) else ","
            frame = pd.read_csv(file, sep=sep)
    except Exception as exc:
        raise TaskError(f"cannot read table {str(path)!r} ({type(exc).__name__}: "
                        f"{first_line(exc)}); give a CSV, TSV or Parquet file") from exc
    if frame.empty:
        raise TaskError(f"table {str(path)!r} has no rows")
    return frame
