"""The wiring checks: constant output, linear stacks, saturated units, loss/target mismatch."""

import numpy as np
import pytest
import torch
from torch import nn

from triage import Task
from triage.doctor import Severity, all_checks, doctor
from triage.probe import ProbeSettings

import tasks

SETTINGS = ProbeSettings(lr=0.05, device="cpu")
WIRING = {"model.constant_output", "model.no_nonlinearity", "model.saturated_units",
          "model.loss_target_mismatch"}
RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 4)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0).astype(np.int64)  # 0, 1, 2
BINARY = (X[:, :1] > 0).astype(np.float32)
CONTINUOUS = (X[:, :1] * 3 + X[:, 1:2]).astype(np.float32)


def found(task):
    checks = tuple(c for c in all_checks() if c.stage != "train")
    diagnosis = doctor(task, SETTINGS, checks=checks)
    return {f.code: f for f in diagnosis.findings if f.code in WIRING}


def mlp(*tail, act=nn.ReLU, out=1, init_std=None):
    def model():
        net = nn.Sequential(nn.Linear(4, 32), act(), nn.Linear(32, out), *tail)
        if init_std is not None:
            nn.init.normal_(net[0].weight, std=init_std)
        return net
    return model


@pytest.mark.parametrize("task, code, severity", [
    (Task(model=mlp(nn.Softmax(dim=1)), train=(X, BINARY), loss=nn.BCELoss()),
     "model.constant_output", Severity.ERROR),
    (Task(model=lambda: nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 3)), train=(X, LABELS)),
     "model.no_nonlinearity", Severity.WARNING),
    (Task(model=mlp(act=nn.Tanh, init_std=4.0, out=3), train=(X * 3, LABELS)),
     "model.saturated_units", Severity.WARNING),
    (Task(model=mlp(), train=(X, LABELS.astype(np.float32).reshape(-1, 1)), loss="mse"),
     "model.loss_target_mismatch", Severity.WARNING),
    (Task(model=mlp(out=3), train=(X, np.eye(3, dtype=np.float32)[LABELS]), loss=nn.L1Loss()),
     "model.loss_target_mismatch", Severity.WARNING),
    (Task(model=mlp(), train=(X, CONTINUOUS), loss="bce_with_logits"),
     "model.loss_target_mismatch", Severity.ERROR),
], ids=["softmax-one-unit", "linear-stack", "saturated-tanh", "mse-on-labels", "l1-on-onehot",
        "bce-on-continuous"])
def test_each_wiring_fault_is_named(task, code, severity):
    findings = found(task)
    assert set(findings) == {code} and findings[code].severity == severity


@pytest.mark.parametrize("task", [
    tasks.blobs(),  # ReLU MLP, cross-entropy on class indices
    Task(model=mlp(nn.Sigmoid()), train=(X, BINARY), loss=nn.BCELoss()),
    Task(model=mlp(act=nn.Tanh, out=3), train=(X, LABELS)),  # default init: not saturated
    Task(model=mlp(), train=(X, CONTINUOUS / 3), loss="mse"),
    Task(model=mlp(), train=(X, 1 / (1 + np.exp(-CONTINUOUS))), loss="bce_with_logits"),
    Task(model=lambda: nn.Linear(4, 1), train=(X, CONTINUOUS / 3), loss="mse"),  # one layer
], ids=["blobs", "sigmoid-bce", "tanh-default-init", "regression", "soft-labels", "linear"])
def test_correct_programs_get_no_wiring_finding(task):
    assert found(task) == {}


def test_zero_weights_are_bad_init_not_a_constant_head_or_a_linear_stack():
    def model():
        net = mlp(out=3)()
        for p in net.parameters():
            nn.init.zeros_(p)
        return net
    diagnosis = doctor(Task(model=model, train=(X, LABELS)), SETTINGS)
    assert diagnosis.findings[0].code == "model.bad_init"
    assert not WIRING & {f.code for f in diagnosis.findings}


def test_the_fix_names_the_layer_and_the_head_the_loss_needs():
    finding = found(Task(model=mlp(nn.Softmax(dim=1)), train=(X, BINARY),
                         loss=nn.BCELoss()))["model.constant_output"]
    assert "'2'" in finding.fix and "sigmoid" in finding.fix
    assert finding.evidence["output_units"] == 1 and finding.evidence["value"] == 1.0


class _BareMatmuls(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(4, 8))
        self.w2 = torch.nn.Parameter(torch.randn(8, 2))

    def forward(self, x):
        return x @ self.w1 @ self.w2


class _BareMatmulsWithTanh(_BareMatmuls):
    def forward(self, x):
        return torch.tanh(x @ self.w1) @ self.w2


@pytest.mark.parametrize("factory, found", [(_BareMatmuls, True), (_BareMatmulsWithTanh, False)])
def test_bare_weight_matrices_multiplied_in_a_row_are_a_linear_chain(factory, found):
    X = torch.randn(64, 4)
    y = torch.randint(0, 2, (64,))
    diagnosis = doctor(Task(model=factory, train=(X, y), val=(X, y)),
                       ProbeSettings(lr=0.01, device="cpu"), budget=None)
    codes = [f.code for f in diagnosis.findings]
    assert ("model.no_nonlinearity" in codes) is found


def _probs_ce(eps):
    def loss(p, y):
        return -(torch.nn.functional.one_hot(y, p.shape[-1]) * torch.log(p + eps)).sum(1).mean()
    return loss


@pytest.mark.parametrize("loss, fires", [
    (_probs_ce(0.0), True),  # 0 * log(0) = NaN at a sure, right answer
    (_probs_ce(1e-8), False),
    (lambda p, y: torch.nn.functional.nll_loss(torch.log(p.clamp(1e-7, 1.0)), y), False),
])
def test_a_loss_of_ones_own_that_is_nan_at_a_sure_right_answer_is_named(loss, fires):
    task = Task(model=mlp(nn.Softmax(dim=1), out=3), train=(X, LABELS), loss=loss)
    checks = tuple(c for c in all_checks() if c.stage == "model")
    codes = {f.code: f for f in doctor(task, SETTINGS, checks=checks).findings}
    assert ("model.unguarded_log" in codes) is fires
    if fires:
        assert codes["model.unguarded_log"].severity == Severity.WARNING
        assert codes["model.unguarded_log"].family == "loss"


def test_torchs_own_losses_on_probabilities_are_guarded_already():
    task = Task(model=mlp(nn.Sigmoid()), train=(X, BINARY), loss=nn.BCELoss())
    checks = tuple(c for c in all_checks() if c.stage == "model")
    assert "model.unguarded_log" not in {
        f.code for f in doctor(task, SETTINGS, checks=checks).findings}


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh])
def test_an_output_that_is_no_distribution_into_a_loss_on_probabilities_is_an_error(act):
    task = Task(model=mlp(act(), out=3), train=(X, LABELS), loss=_probs_ce(1e-8))
    checks = tuple(c for c in all_checks() if c.stage == "model")
    found_ = {f.code: f for f in doctor(task, SETTINGS, checks=checks).findings}
    assert found_["model.output_activation"].severity == Severity.ERROR
    assert "not a distribution" in found_["model.output_activation"].message
