import pytest

from triage.choices import OPTIMIZERS, UPDATERS, updater_name, updater_optimizer


@pytest.mark.parametrize("updater", UPDATERS)
def test_updater_names_round_trip(updater):
    optimizer, nesterov = updater_optimizer(updater)
    assert optimizer in OPTIMIZERS
    assert updater_name(optimizer, nesterov) == updater


def test_plain_sgd_and_nesterov_sgd_are_two_updaters():
    assert updater_name("sgd", True) == "sgd_nesterov"
    assert updater_name("sgd", False) == "sgd"
    assert updater_name("adam", True) == "adam"  # Nesterov is SGD's alone
