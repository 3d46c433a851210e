"""The final activation, read from modules or from the output itself (functional calls)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from triage import Task
from triage.doctor.forward import inspect
from triage.probe import ProbeSettings

X = torch.randn(64, 6)
CPU = ProbeSettings(lr=0.1, device="cpu")


class Functional(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.linear, self.fn = nn.Linear(6, 4), fn

    def forward(self, x):
        return self.fn(self.linear(x))


class LinearHeadOverLSTM(nn.Module):  # bounded output, but straight from a Linear layer
    def __init__(self):
        super().__init__()
        self.lstm, self.head = nn.LSTM(6, 8, batch_first=True), nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.lstm(x.unsqueeze(1))[0][:, -1])


@pytest.mark.parametrize("factory, expected", [
    (lambda: nn.Sequential(nn.Linear(6, 4), nn.Softmax(dim=1)), "softmax"),
    (lambda: nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 4)), None),
    (lambda: nn.Sequential(nn.Linear(6, 4), nn.Tanh()), "tanh"),
    (lambda: Functional(lambda z: torch.softmax(z, -1)), "softmax"),
    (lambda: Functional(lambda z: F.log_softmax(z, -1)), "log_softmax"),
    (lambda: Functional(torch.relu), "relu"),
    (lambda: Functional(lambda z: torch.relu(z + 10.0)), "relu"),  # positive on every sample
    (lambda: Functional(torch.sigmoid), "sigmoid"),
    (lambda: Functional(torch.tanh), "tanh"),
    (LinearHeadOverLSTM, None),
])
def test_final_activation(factory, expected):
    task = Task(model=factory, train=(X, torch.zeros(64, 4)), loss="mse")
    info = inspect(task, CPU, X, torch.zeros(64, 4), task.train_step())
    assert info.error is None and info.final_activation == expected


def test_layers_sequences_and_constant_weights_are_recorded():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.GRU(3, 5), nn.Linear(5, 2)
            nn.init.constant_(self.head.weight, 0.5)

        def forward(self, x):
            return self.head(self.rnn(x)[0][-1])

    seq = torch.randn(250, 4, 3)  # time-major: 250 steps
    task = Task(model=Net, train=(seq.transpose(0, 1), torch.zeros(4, 2)), loss="mse")
    info = inspect(task, CPU, seq, torch.zeros(4, 2), task.train_step())
    assert info.sequence_lengths == {"rnn": 250}
    assert info.constant_weights == ["head.weight"]
    assert info.layer_names == ["rnn", "head"] and len(info.layer_std) == 2


class PerStepHead(nn.Module):  # pytorch/examples' time-sequence model, shortened
    def __init__(self):
        super().__init__()
        self.cell, self.linear = nn.LSTMCell(1, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = c = torch.zeros(len(x), 8, dtype=x.dtype)
        outputs = []
        for column in x.split(1, dim=1):
            h, c = self.cell(column, (h, c))
            outputs.append(self.linear(h))
        return torch.cat(outputs, dim=1)


def test_a_linear_head_per_time_step_is_not_taken_for_a_sigmoid_in_float64():
    x = torch.sin(torch.linspace(0, 20, 16 * 12, dtype=torch.float64)).reshape(16, 12)
    task = Task(model=lambda: PerStepHead().double(), train=(x, x), loss="mse")
    info = inspect(task, CPU, x, x, task.train_step())
    assert info.error is None and info.final_activation is None


def test_a_functional_softmax_over_one_unit_is_read_as_a_softmax_and_constant():
    task = Task(model=lambda: Functional(lambda z: torch.softmax(z[:, :1], -1)),
                train=(X, torch.zeros(64, 1)), loss="mse")
    info = inspect(task, CPU, X, torch.zeros(64, 1), task.train_step())
    assert info.final_activation == "softmax" and info.constant_output


class NoActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 4)

    def forward(self, x):
        return self.b(self.a(x))


@pytest.mark.parametrize("factory, chains, affine", [
    (lambda: nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)),
     [["0", "1"]], False),
    (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(inplace=True), nn.Linear(8, 4)), [], False),
    (lambda: nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.Linear(8, 8), nn.Linear(8, 4)),
     [["0", "2", "3"]], True),
    (NoActivation, [["a", "b"]], True),
    (lambda: Functional(torch.relu), [], False),
])
def test_linear_chains_and_affine_models(factory, chains, affine):
    task = Task(model=factory, train=(X, torch.zeros(64, 4)), loss="mse")
    info = inspect(task, CPU, X, torch.zeros(64, 4), task.train_step())
    assert info.linear_chains == chains and info.affine is affine


@pytest.mark.parametrize("std, saturated", [(3.0, True), (None, False)])
def test_saturation_of_hidden_tanh_units(std, saturated):
    def model():
        net = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 4))
        if std is not None:
            nn.init.normal_(net[0].weight, std=std)
        return net
    task = Task(model=model, train=(X, torch.zeros(64, 4)), loss="mse")
    info = inspect(task, CPU, X, torch.zeros(64, 4), task.train_step())
    assert list(info.saturated) == ["1"] and (info.saturated["1"] > 0.5) is saturated


class ReluOverPositiveLinear(nn.Module):  # the ReLU changes nothing at init
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 4)
        nn.init.constant_(self.linear.bias, 10.0)

    def forward(self, x):
        return F.relu(self.linear(x))


def test_a_relu_head_that_changes_nothing_at_init_is_still_read():
    task = Task(model=ReluOverPositiveLinear, train=(X, torch.zeros(64, 4)), loss="mse")
    info = inspect(task, CPU, X, torch.zeros(64, 4), task.train_step())
    assert info.final_activation == "relu"
    linear = Task(model=lambda: nn.Linear(6, 4), train=(X, torch.zeros(64, 4)), loss="mse")
    assert inspect(linear, CPU, X, torch.zeros(64, 4), linear.train_step()).final_activation \
        is None


def _constant_relu_mlp():
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.1)
            nn.init.zeros_(m.bias)
    return net


def test_constant_weights_leave_no_activation_to_read_from_the_values():
    # Positive constant weights make every output equal and non-negative with exact zeros:
    # a ReLU's signature, left by the init. Modules still count.
    task = Task(model=_constant_relu_mlp, train=(X, torch.zeros(64, 4)), loss="mse")
    info = inspect(task, CPU, X, torch.zeros(64, 4), task.train_step())
    assert info.constant_weights and info.final_activation is None
    squashed = Task(model=lambda: nn.Sequential(_constant_relu_mlp(), nn.Tanh()),
                    train=(X, torch.zeros(64, 4)), loss="mse")
    assert inspect(squashed, CPU, X, torch.zeros(64, 4),
                   squashed.train_step()).final_activation == "tanh"
