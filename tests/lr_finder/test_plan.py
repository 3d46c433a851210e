import pytest

from triage.lr_finder.plan import BUDGET_TIMES, MIN_BUDGET, MIN_WINDOW, budget


@pytest.mark.parametrize(("max_steps", "steps", "full", "expected"), [
    (2000, 100, 5000, (2000, 100, False)),   # a large task: the user's cap
    (2000, 100, 1000, (2000, 100, False)),   # 2x its budget is the cap exactly
    (2000, 100, 450, (900, 45, True)),       # the digits MLP: everything in proportion
    (2000, 100, 250, (500, 25, True)),
    (2000, 100, 9, (MIN_BUDGET, MIN_WINDOW, True)),  # a tiny task: the floors
    (600, 100, 450, (600, 100, False)),      # the user's own cap is lower still
    (4000, 50, 450, (900, MIN_WINDOW, True)),
])
def test_budget_follows_the_task(max_steps, steps, full, expected):
    assert budget(max_steps, steps, full) == expected


@pytest.mark.parametrize("full", [1, 150, 151, 450, 999, 1000, 10**6])
def test_never_more_than_twice_the_task_or_the_users_cap(full):
    cap, window, _ = budget(2000, 100, full)
    assert cap <= min(2000, max(BUDGET_TIMES * full, MIN_BUDGET))
    assert 3 * window <= cap and MIN_WINDOW <= window <= 100
