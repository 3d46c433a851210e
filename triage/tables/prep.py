"""Preparing a table's columns for a network, fitted on the training rows only.

Every decision is kept in a plain, YAML-safe ``Preprocessing`` record (the config's ``data:``
section), so that the same transformation can be applied again to new rows:

- ID-like columns (a distinct value in every row) and constant columns are dropped;
- numeric columns are standardised (mean 0, std 1, from the training rows); a column with
  missing values is imputed with its training mean and gains a 0/1 ``<col>__missing`` column;
- other columns are categorical: one-hot encoded, levels seen in fewer than ``RARE`` training
  rows pooled into ``<col>=__rare__``, missing values a level of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from triage.errors import TaskError

RARE = 10  # training rows a level needs to keep its own column (fewer: pooled)
MAX_LEVELS = 50  # kept levels per categorical column (the most frequent ones)
RARE_LEVEL, MISSING_LEVEL = "__rare__", "__missing__"


@dataclass
class Column:
    """How one input column becomes network inputs."""

    name: str
    kind: str  # "numeric" or "categorical"
    mean: float = 0.0
    std: float = 1.0
    missing: bool = False  # numeric: adds a <name>__missing indicator
    levels: list[str] = field(default_factory=list)  # categorical: kept levels, in order


@dataclass
class Preprocessing:
    """The fitted transformation of a table's features (see the module's docstring)."""

    columns: list[Column]
    dropped: dict[str, str]  # column -> why it was dropped

    @classmethod
    def fit(cls, features: pd.DataFrame) -> Preprocessing:
        columns, dropped = [], {}
        rows = len(features)
        for name in features.columns:
            values = features[name]
            distinct = values.nunique(dropna=True)
            if distinct <= 1:
                dropped[str(name)] = "constant"
            elif distinct == rows and not pd.api.types.is_float_dtype(values):
                dropped[str(name)] = "a distinct value in every row (an ID)"
            elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                numbers = values.astype("float64")
                std = float(numbers.std(ddof=0))
                columns.append(Column(str(name), "numeric", float(numbers.mean()),
                                      std if std > 0 else 1.0, bool(numbers.isna().any())))
            else:
                counts = values.astype("string").fillna(MISSING_LEVEL).value_counts()
                kept = sorted([str(v) for v, n in counts.items() if n >= RARE][:MAX_LEVELS])
                if not kept:
                    dropped[str(name)] = f"every value in fewer than {RARE} rows (ID-like)"
                    continue
                levels = kept + ([RARE_LEVEL] if len(kept) < len(counts) else [])
                columns.append(Column(str(name), "categorical", levels=levels))
        if not columns:
            raise TaskError("the table has no usable feature column (every one is constant or "
                            f"an ID: {', '.join(dropped) or 'none'}); add feature columns")
        return cls(columns, dropped)

    @property
    def names(self) -> list[str]:
        """The network's input columns, in order."""
        out = []
        for column in self.columns:
            if column.kind == "numeric":
                out += [column.name] + ([f"{column.name}__missing"] if column.missing else [])
            else:
                out += [f"{column.name}={level}" for level in column.levels]
        return out

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The float32 input matrix for ``features`` (which must hold every kept column)."""
        missing = [c.name for c in self.columns if c.name not in features.columns]
        if missing:
            raise TaskError(f"the table lacks column(s) {', '.join(missing)} that the config's "
                            "preprocessing expects")
        parts = []
        for column in self.columns:
            values = features[column.name]
            if column.kind == "numeric":
                numbers = pd.to_numeric(values, errors="coerce").astype("float64")
                parts.append(((numbers.fillna(column.mean) - column.mean) / column.std)
                             .to_numpy()[:, None])
                if column.missing:
                    parts.append(numbers.isna().to_numpy(dtype="float64")[:, None])
            else:
                text = values.astype("string").fillna(MISSING_LEVEL)
                known = set(column.levels) - {RARE_LEVEL}
                text = text.where(text.isin(known), RARE_LEVEL)
                parts.append(np.stack([(text == level).to_numpy(dtype="float64")
                                       for level in column.levels], axis=1))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns], "dropped": dict(self.dropped)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        return cls([Column(**c) for c in data["columns"]], dict(data.get("dropped", {})))

    def describe(self) -> list[str]:
        """One line per decision, for the user."""
        lines = [f"dropped {name}: {why}" for name, why in self.dropped.items()]
        numeric = [c.name for c in self.columns if c.kind == "numeric"]
        if numeric:
            lines.append(f"standardised {len(numeric)} numeric column(s): {', '.join(numeric)}")
        for c in self.columns:
            if c.kind == "numeric" and c.missing:
                lines.append(f"{c.name}: missing values imputed with the training mean "
                             f"({c.mean:.4g}) and flagged in {c.name}__missing")
            if c.kind == "categorical":
                pooled = " (rare levels pooled)" if RARE_LEVEL in c.levels else ""
                lines.append(f"one-hot encoded {c.name}: {len(c.levels)} level(s){pooled}")
        return lines
