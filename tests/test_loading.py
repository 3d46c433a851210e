from pathlib import Path

import pytest

from triage import Task
from triage.errors import TaskError
from triage.loading import load_task

TASKS = Path(__file__).parent / "tasks.py"


@pytest.mark.parametrize("spec", ["tasks:tiny", "tasks:blobs", f"{TASKS}:blobs", f"{TASKS}:tiny"])
def test_module_and_file_forms(spec):
    task = load_task(spec)
    assert isinstance(task, Task)
    assert task.name == "blobs"


def test_default_and_example_names():
    assert load_task(None).name == "digits_mlp"
    assert load_task("friedman_mlp").name == "friedman_mlp"


@pytest.mark.parametrize(("spec", "message"), [
    ("no_such_module_xyz:task", "cannot import module 'no_such_module_xyz'"),
    ("tasks:missing", "has no attribute 'missing'"),
    ("tasks:not_a_task", "is a int, not a triage.Task"),
    ("tasks:raises", "raised RuntimeError when called: cannot build"),
    ("tasks", "has no ':attr' part"),
    ("does/not/exist.py:task", "does not exist"),
])
def test_bad_specs(spec, message):
    with pytest.raises(TaskError, match=message):
        load_task(spec)
