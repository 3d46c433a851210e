import math

import pytest
import torch
from torch import nn

from triage.errors import SettingsError
from triage.optimizers import canonical, customary_lr, make_optimizer, needs_closure

import tasks


def _params():
    return nn.Linear(3, 2).parameters()


@pytest.mark.parametrize(("name", "cls"), [
    ("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
    ("rmsprop", torch.optim.RMSprop), ("adagrad", torch.optim.Adagrad),
    ("Adadelta", torch.optim.Adadelta), ("nadam", torch.optim.NAdam),
    ("LBFGS", torch.optim.LBFGS), ("asgd", torch.optim.ASGD),
])
def test_each_optimizer(name, cls):
    opt = make_optimizer(name, _params(), 0.01, momentum=0.5)
    assert type(opt) is cls
    assert opt.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize(("name", "expected"), [
    ("SGD", "sgd"), ("Adam", "adam"), ("lbfgs", "LBFGS"), ("NADAM", "NAdam"), ("task", "task"),
])
def test_names_are_canonical(name, expected):
    assert canonical(name) == expected


def test_weight_decay_reaches_every_updater_that_takes_it():
    assert make_optimizer("NAdam", _params(), 0.01, weight_decay=1e-4).param_groups[0][
        "weight_decay"] == 1e-4
    with pytest.raises(SettingsError, match="LBFGS takes no weight decay"):
        make_optimizer("LBFGS", _params(), 0.01, weight_decay=1e-4)


def test_sgd_nesterov_momentum():
    group = make_optimizer("sgd", _params(), 0.1, momentum=0.9, nesterov=True).param_groups[0]
    assert group["nesterov"] is True and group["momentum"] == 0.9


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "lbfgz"}, "unknown optimizer 'lbfgz'; use sgd, .*torch.optim class"),
    ({"name": 3}, "unknown optimizer 3"),
    ({"name": "Optimizer"}, "unknown optimizer 'Optimizer'"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": -1.0}, "lr must be"),
    ({"lr": math.nan}, "lr must be"),
    ({"momentum": 0.0}, "Nesterov SGD needs momentum > 0"),
    ({"weight_decay": -1.0}, "weight_decay must be"),
    ({"name": "task"}, "optimizer 'task' is the Task's own, and this task has none"),
])
def test_optimizer_errors(kwargs, message):
    args = {"name": "sgd", "lr": 0.1, **kwargs}
    name, lr = args.pop("name"), args.pop("lr")
    with pytest.raises(SettingsError, match=message):
        make_optimizer(name, _params(), lr, **args)


def test_the_tasks_factory_gets_the_lr_and_the_weight_decay():
    opt = make_optimizer("task", _params(), 0.3, weight_decay=1e-3,
                         factory=lambda params, lr: torch.optim.Adadelta(params, lr=lr))
    assert type(opt) is torch.optim.Adadelta
    assert opt.param_groups[0]["lr"] == 0.3 and opt.param_groups[0]["weight_decay"] == 1e-3
    with pytest.raises(SettingsError, match=r"returned list, not a torch\.optim\.Optimizer"):
        make_optimizer("task", _params(), 0.3, factory=lambda params, lr: [])
    with pytest.raises(SettingsError, match="LBFGS takes no weight decay"):
        make_optimizer("task", _params(), 0.3, weight_decay=1e-3, factory=tasks.lbfgs())


def test_customary_lr():
    assert customary_lr("sgd") == 0.01  # triage's table
    assert customary_lr("Adadelta") == 1.0  # the class's own default
    assert customary_lr("task", tasks.lbfgs(0.8)) == 0.8  # the factory's default
    assert customary_lr("task", lambda params, lr: torch.optim.SGD(params, lr)) is None
    assert customary_lr("task") is None


def test_only_lbfgs_needs_a_closure():
    assert needs_closure(torch.optim.LBFGS(_params()))
    assert not needs_closure(torch.optim.Adam(_params()))
