"""from_transformers with real transformers models built from configs (no weights downloaded,
no network: HF_HUB_OFFLINE is set)."""

import importlib
import os
from pathlib import Path

import pytest
import torch
import yaml

import triage
from triage.errors import TaskError
from triage.loading import import_file

transformers = pytest.importorskip("transformers", reason="pip install 'triage[transformers]'")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hugging_face" / "text_classifier.py"
CPU = triage.ProbeSettings(lr=1e-3, optimizer="adamw", steps=10, device="cpu")


def _example():
    return import_file(str(EXAMPLE))


def test_a_sequence_classifier_trains_on_dict_batches_with_its_own_loss():
    result = triage.run_probes(_example().task(), [CPU])[0]
    assert result.ok and result.steps == 10 and result.val_loss is not None
    assert result.grad_norm and result.update_ratio


def test_a_causal_language_model_with_the_default_collator():
    config = transformers.GPT2Config(vocab_size=30, n_positions=16, n_embd=16, n_layer=1,
                                     n_head=2)
    generator = torch.Generator().manual_seed(0)
    items = [{"input_ids": ids, "labels": ids}
             for ids in torch.randint(0, 30, (40, 12), generator=generator).tolist()]
    task = triage.from_transformers(lambda: transformers.GPT2LMHeadModel(config), items)
    result = triage.run_probes(task, [CPU])[0]
    assert result.ok and result.val_loss is not None and task.name == "transformers"


def test_the_model_must_be_a_factory_and_the_package_present(monkeypatch):
    with pytest.raises(TaskError, match="zero-argument factory"):
        triage.from_transformers(_example().model(), train=[])
    real = importlib.import_module

    def missing(name, *args):
        if name == "transformers":
            raise ImportError("No module named 'transformers'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(TaskError, match=r"pip install 'triage\[transformers\]'"):
        triage.from_transformers(_example().model, train=[])


def test_lr_find_sweep_and_doctor_from_the_command_line(run, tmp_path):
    spec = f"{EXAMPLE}:task"
    out = run("lr-find", spec, "--optimizer", "adamw", "--steps", "40", "--max-steps", "300",
              "--device", "cpu", "--no-plot")
    assert out.exit_code == 0, out.output
    config = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert config["optimizer"]["name"] == "adamw" and config["task"] == "text_classifier"
    out = run("sweep", spec, "--trials", "4", "--storage", ":memory:", "--device", "cpu",
              "--no-plot")
    assert out.exit_code == 0, out.output
    out = run("doctor", spec, "--device", "cpu", "--lr", "1e-3", "--optimizer", "adamw")
    assert out.exit_code in (0, 1) and "data.not_checked" in out.output, out.output
    assert "Traceback" not in out.output
