import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tasks


@pytest.fixture
def blobs():
    return tasks.blobs()


@pytest.fixture
def linreg():
    return tasks.linear_regression()
