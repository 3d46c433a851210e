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
