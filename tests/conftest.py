import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("COLUMNS", "200")  # wide rich tables in CLI tests


@pytest.fixture(autouse=True)
def _strict_torch():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)
