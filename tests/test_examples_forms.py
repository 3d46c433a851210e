"""The examples of other program shapes run as written: lr-find, sweep and doctor end to end."""

from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "custom_steps"


@pytest.mark.parametrize("name", ["vae", "siamese"])
def test_example_runs_lr_find_sweep_and_doctor(name, run, tmp_path):
    spec = f"{EXAMPLES / name}.py:task"
    out = run("lr-find", spec, "--device", "cpu", "--max-steps", "600", "--no-plot")
    assert out.exit_code == 0, out.output
    config = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert config["task"] == name and config["optimizer"]["lr"] > 0
    out = run("sweep", spec, "--trials", "4", "--storage", ":memory:", "--device", "cpu",
              "--no-plot", "--from", "triage.yaml")
    assert out.exit_code == 0, out.output
    out = run("doctor", spec, "--device", "cpu", "--json")
    assert out.exit_code == 0, out.output  # no error-level finding on a correct program
