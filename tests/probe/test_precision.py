"""Mixed precision: bfloat16 autocast on any device, float16 with loss scaling on CUDA (its
code path exercised here on the CPU with the CUDA requirement lifted)."""

import pytest
import yaml

from triage import Config, ProbeSettings, run_probes
from triage.errors import SettingsError

import tasks


def test_bf16_trains_and_differs_from_float32(blobs):
    full, half = run_probes(blobs, [ProbeSettings(lr=0.1, steps=40, device="cpu", precision=p)
                                    for p in ("32", "bf16")])
    assert full.ok and half.ok and half.val_loss is not None
    assert full.losses != half.losses  # the forward pass really ran in bfloat16


def test_float16_with_loss_scaling_is_refused_on_the_cpu_in_one_line():
    with pytest.raises(SettingsError, match=r"16-mixed .* needs a CUDA device, not cpu"):
        ProbeSettings(lr=0.1, device="cpu", precision="16-mixed")
    with pytest.raises(SettingsError, match="unknown precision 'fp8'"):
        ProbeSettings(lr=0.1, precision="fp8")


@pytest.fixture
def scaling_on_cpu(monkeypatch):
    """Lift the CUDA requirement so the loss-scaling path runs here (the CUDA failure mode,
    float16 autocast on a device, is exercised by CPU autocast in float16)."""
    monkeypatch.setattr("triage.probe.device.check_precision", lambda precision, device: None)


def test_loss_scaling_path_trains_and_judges_divergence_on_the_unscaled_loss(scaling_on_cpu,
                                                                             blobs):
    ok, blown = run_probes(blobs, [ProbeSettings(lr=lr, steps=60, device="cpu",
                                                 precision="16-mixed") for lr in (0.1, 50.0)])
    assert ok.ok and ok.losses[-1] < ok.losses[0] and ok.grad_norm
    assert max(v for v in ok.losses if v == v) < 10  # unscaled: the scale is 65536
    assert blown.diverged


def test_the_config_records_the_precision(tmp_path, run):
    out = run("lr-find", f"{tasks.__file__}:blobs", "--precision", "bf16", "--device", "cpu",
              "--max-steps", "600", "--no-plot")
    assert out.exit_code == 0, out.output
    assert yaml.safe_load((tmp_path / "triage.yaml").read_text())["precision"] == "bf16"
    assert Config.from_dict({"version": 1, "optimizer": {"name": "sgd", "lr": 0.1}}
                            ).precision == "32"
    out = run("lr-find", "--precision", "16-mixed", "--device", "cpu")
    assert out.exit_code == 2 and "needs a CUDA device" in out.output
    assert not (tmp_path / "triage.yaml").read_text().count("16-mixed")


def test_sweep_trials_run_in_the_precision_asked(blobs):
    from triage import SweepSettings, load_space, sweep

    summary = sweep(blobs, load_space("default"),
                    SweepSettings(budget=None, trials=2, precision="bf16"), storage=None)
    assert summary.best is not None and summary.best.precision == "bf16"


@pytest.mark.parametrize("optimizer", ["LBFGS", "task"])
def test_loss_scaling_refuses_an_updater_that_steps_with_a_closure(scaling_on_cpu, optimizer):
    with pytest.raises(SettingsError, match="LBFGS steps with a closure, which float16 loss "
                                            "scaling cannot run; use --precision bf16 or 32"):
        run_probes(tasks.lbfgs_regression(), [ProbeSettings(
            lr=0.1, steps=2, device="cpu", precision="16-mixed", optimizer=optimizer)])
