"""A tiny Hugging Face text classifier, brought to triage with ``from_transformers``.

A stand-in for fine-tuning a BERT-style model: sentences of varying length over a 40-token
vocabulary, labelled by whether they mention token 7 more often than token 8. The model is
built from a config (no weights are downloaded); a padding collator batches the sentences.

    triage lr-find examples/hugging_face/text_classifier.py:task --optimizer adamw
    triage sweep examples/hugging_face/text_classifier.py:task --trials 8
"""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification

import triage

VOCAB, PAD = 40, 0


def sentences(n: int, seed: int) -> list[dict[str, object]]:
    """Items as a tokenizer would give them: token ids of varying length and a label."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        length = int(torch.randint(4, 17, (), generator=generator))
        ids = torch.randint(1, VOCAB, (length,), generator=generator)
        items.append({"input_ids": ids.tolist(), "label": int((ids == 7).sum() > (ids == 8).sum())})
    return items


def pad(items: list[dict[str, object]]) -> dict[str, torch.Tensor]:
    """Pad to the longest sentence of the batch, with an attention mask."""
    longest = max(len(item["input_ids"]) for item in items)
    ids = torch.full((len(items), longest), PAD)
    mask = torch.zeros((len(items), longest), dtype=torch.long)
    for row, item in enumerate(items):
        ids[row, : len(item["input_ids"])] = torch.tensor(item["input_ids"])
        mask[row, : len(item["input_ids"])] = 1
    labels = torch.tensor([item["label"] for item in items])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def model() -> BertForSequenceClassification:
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=32, num_labels=2, pad_token_id=PAD)
    return BertForSequenceClassification(config)


def task() -> triage.Task:
    return triage.from_transformers(model, train=sentences(256, 0), val=sentences(64, 1),
                                    collator=pad, epochs=3, name="text_classifier")
