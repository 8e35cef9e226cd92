import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("COLUMNS", "200")  # wide rich tables in CLI tests
# `lmech check` runs one worker per core by default; the tests run laws in this process
# (and in their own subprocesses) unless a test asks for workers
os.environ.setdefault("LMECH_WORKERS", "1")


@pytest.fixture(autouse=True)
def _close_figures():
    # a test that leaves pyplot figures open must not push a later one past matplotlib's
    # 20-figure warning (an error under the suite's filterwarnings)
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(autouse=True)
def _strict_torch():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)
