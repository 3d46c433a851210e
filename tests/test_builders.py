import math

import pytest
import torch
from torch import nn

from triage.builders import StepSchedule, apply_init, make_scheduler
from triage.errors import SettingsError
from triage.optimizers import make_optimizer


def _params():
    return nn.Linear(3, 2).parameters()


def test_step_schedule_divides_after_k_every_n():
    schedule = StepSchedule(after_epochs=3, every_epochs=2, factor=1.5)
    assert [schedule.multiplier(e) for e in range(8)] == pytest.approx(
        [1, 1, 1, 1 / 1.5, 1 / 1.5, 1 / 1.5**2, 1 / 1.5**2, 1 / 1.5**3])
    opt = make_optimizer("sgd", _params(), 0.3)
    scheduler = make_scheduler(opt, schedule)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert lrs == pytest.approx([0.3, 0.3, 0.3, 0.2, 0.2, 0.3 / 2.25])
    assert make_scheduler(opt, None) is None


@pytest.mark.parametrize(("k", "n", "factor"), [(2, 2, 1.5), (1, 2, 1.5), (3, 0, 1.5), (3, 1, 1.0)])
def test_step_schedule_validation(k, n, factor):
    with pytest.raises(SettingsError):
        StepSchedule(after_epochs=k, every_epochs=n, factor=factor)


def _wide_model():
    return nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Conv1d(4, 200, 5), nn.LSTM(50, 100))


@pytest.mark.parametrize(("init", "expected_std"), [
    ("xavier", math.sqrt(2 / (400 + 300))),
    ("he", math.sqrt(2 / 400)),
    ("lecun", math.sqrt(1 / 400)),
])
def test_inits_have_the_right_scale_and_zero_biases(init, expected_std):
    torch.manual_seed(0)
    model = apply_init(_wide_model(), init)
    linear, conv, lstm = model[0], model[2], model[3]
    assert linear.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    for bias in (linear.bias, conv.bias, lstm.bias_ih_l0, lstm.bias_hh_l0):
        assert torch.count_nonzero(bias) == 0
    fan_in_conv = 4 * 5
    conv_std = {"xavier": math.sqrt(2 / (fan_in_conv + 200 * 5)), "he": math.sqrt(2 / fan_in_conv),
                "lecun": math.sqrt(1 / fan_in_conv)}[init]
    assert conv.weight.std().item() == pytest.approx(conv_std, rel=0.1)


def test_default_init_leaves_the_model_alone():
    model = _wide_model()
    before = [p.clone() for p in model.parameters()]
    apply_init(model, "default")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_unknown_init():
    with pytest.raises(SettingsError, match="unknown init 'orthogonal'"):
        apply_init(nn.Linear(2, 2), "orthogonal")
