"""``sweep --workers N``: local worker processes on one study."""

from pathlib import Path

import pandas as pd
import pytest

from triage import load_config
from triage.sweeper.workers import worker_devices

TASKS = Path(__file__).parents[1] / "tasks.py"


def test_two_workers_fill_the_study_once(run, tmp_path):
    result = run("sweep", f"{TASKS}:blobs", "--trials", "6", "--budget", "80", "--workers",
                 "2", "--no-plot", "--table", "trials.csv")
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "triage-sweep.yaml")
    table = pd.read_csv(tmp_path / "trials.csv")
    assert sum(config.sweep["trials"].values()) == len(table) and table["trial"].is_unique
    search = table[table["stage"] == "search"]
    assert len(search) == 6
    assert not search.duplicated(subset=["optimizer", "lr", "batch_size", "init"]).any()
    finals = table[table["stage"] != "search"]  # queued once, whoever got there first
    assert len(finals) and not finals.duplicated(subset=["stage", "seed"]).any()


@pytest.mark.parametrize("args, words", [
    (["--workers", "2", "--storage", ":memory:"], "needs a storage the workers share"),
    (["--workers", "0"], "--workers"),
])
def test_bad_worker_settings_are_one_line_and_exit_2(run, args, words):
    result = run("sweep", f"{TASKS}:blobs", "--trials", "2", *args)
    assert result.exit_code == 2 and words in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("device, gpus, expected", [
    ("auto", 3, ["cuda:0", "cuda:1", "cuda:2", "cuda:0"]),  # one GPU each, then around
    ("auto", 1, ["auto"] * 4),  # one GPU: all share it, as one worker would
    ("auto", 0, ["auto"] * 4),
    ("cpu", 3, ["cpu"] * 4),  # an explicit device is kept
])
def test_each_worker_takes_its_own_gpu_when_several_are_visible(monkeypatch, device, gpus,
                                                                 expected):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    assert worker_devices(device, 4) == expected
