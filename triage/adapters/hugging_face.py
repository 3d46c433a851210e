"""``from_transformers``: a Hugging Face ``transformers`` model and datasets of dict items as a
Task. The batch goes to ``model(**batch)`` and the loss is the one the model's output carries
(the labels are in the batch), exactly as ``transformers.Trainer`` trains it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from triage.adapters import require
from triage.errors import TaskError
from triage.task import Task


def from_transformers(
    model: Callable[[], Any],
    train: Any,
    val: Any = None,
    collator: Callable[[list[Any]], Any] | None = None,
    epochs: int | None = None,
    name: str | None = None,
) -> Task:
    """A Task for a ``transformers`` model.

    Args:
        model: zero-argument factory of a ``transformers`` model that computes its loss from
            ``labels`` (``BertForSequenceClassification(config)``, ``GPT2LMHeadModel(config)``,
            or ``from_pretrained`` inside the factory).
        train: a dataset of dict items (a list, a torch Dataset, a ``datasets.Dataset``).
        val: the same, or None for a seeded 20% hold-out of ``train``.
        collator: a data collator (any function from a list of items to a batch, such as
            ``DataCollatorWithPadding(tokenizer)``); default ``default_data_collator``, which
            also renames ``label`` to ``labels``.
        epochs: your full training budget (default: the Task's).
        name: shown in reports (default: the model's class name).

    Raises:
        TaskError: transformers is not installed, or ``model`` is not a factory.
    """
    transformers = require("transformers", "transformers", "from_transformers")
    if not callable(model) or isinstance(model, transformers.PreTrainedModel):
        raise TaskError("from_transformers takes a zero-argument factory of the model, so that "
                        "every probe trains a fresh one: model=lambda: "
                        "BertForSequenceClassification(config)")
    extra: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    return Task(model=model, train=train, val=val,
                collate=collator or transformers.default_data_collator,
                name=name or _name(model), **extra)


def _name(factory: Callable[[], Any]) -> str:
    named = getattr(factory, "__name__", "")
    return named if named and named != "<lambda>" else "transformers"
