"""Shared pieces of the transfer laws: the tasks, their spec fields, the optimal-lr estimate.

Tasks:

- ``teacher-student``: x ~ N(0, I_d), y = a . tanh(W x / sqrt(d)) for a fixed random
  teacher of width 64 (drawn from the stream (``data_seed``, "teacher-student")),
  standardized to unit variance; MSE.
- ``fashion-mnist``: a random subset of Fashion-MNIST train images (stream
  (``data_seed``, "fashion-mnist subset")), 2x2 average-pooled to 14x14 = 196 features,
  standardized; 10-class cross-entropy.

The task is fixed by ``data_seed``, independent of the run seed, which draws the network
initializations (stream (seed, "init", i) for the i-th seed) and the minibatches.

Memory: the members of a sweep (seeds x learning rates of one size) train as vmapped
chunks whose declared peak fits ``memory_budget_gib`` (:func:`members_per_chunk`).
Every member's initialization comes from its own seed and the minibatch draws do not
depend on how many members train at once, so the tables do not depend on the chunking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lmech._memory import format_bytes, memory_limit
from lmech.errors import ConfigError, InputError
from lmech.laws.spec import LawSpec, param
from lmech.seeding import derive_seed, rng, torch_generator

__all__ = [
    "AUTO_BUDGET_FRACTION",
    "BUDGET",
    "HEAP_SLACK",
    "TASKS",
    "TaskSpec",
    "budget_bytes",
    "capped",
    "chunks",
    "init_seeds",
    "learning_rates",
    "members_per_chunk",
    "task_data",
]

TASKS = ("teacher-student", "fashion-mnist")
ACTIVATIONS = ("tanh", "relu", "erf", "gelu")  # those of lmech.nn.models.MLPSpec, not identity
_GIB = 2**30
#: Share of lmech's memory limit (:func:`lmech._memory.memory_limit`) an automatic
#: budget takes, so that two laws of ``lmech check --workers 2`` fit side by side.
AUTO_BUDGET_FRACTION = 0.5
#: Bytes a chunked sweep declares on top of its tensors: glibc's malloc serves tensors
#: under its 32 MiB mmap threshold from a heap that fragments between steps (measured: a
#: width-1024 sweep in chunks of 2 members peaked 33 MiB above the sum of its members).
HEAP_SLACK = 2**28
#: The ``memory_budget_gib`` field of every law that trains members in chunks.
BUDGET = dict(
    ge=0,
    le=2**20,
    doc="GiB the ensembles may take at once; the seeds x learning rates of one size train in "
    "chunks that fit it (the results do not depend on it); 0: half of lmech's memory limit "
    "(LMECH_MEMORY_LIMIT_GB, else 80% of the available RAM)",
)


@dataclass(frozen=True)
class TaskSpec(LawSpec):
    """The fields every transfer law shares: the task, the activation, muP's base width."""

    task: str = param("teacher-student", choices=TASKS)
    input_dim: int = param(16, ge=1, doc="d_in, teacher-student only (fashion-mnist has 196)")
    activation: str = param("tanh", choices=ACTIVATIONS)
    base_width: int = param(64, ge=1, doc="muP's base width (where muP equals SP)")
    data_seed: int = param(0, ge=0, doc="seed of the fixed task (not the run seed)")

    def io_dims(self) -> tuple[int, int]:
        """(input dimension, outputs) of the task."""
        return (196, 10) if self.task == "fashion-mnist" else (self.input_dim, 1)

    def task_bytes(self, num_train: int) -> int:
        """Bytes of :func:`task_data` (errs high): float64 inputs and targets with their
        standardized copies; for fashion-mnist the cached uint8 images (70,000 x 784,
        twice while loading) and the full-resolution float rows before pooling."""
        d_in, _ = self.io_dims()
        if self.task == "fashion-mnist":
            extra = 2 * 70_000 * 784 + 3 * 8 * num_train * 784
        else:
            extra = 3 * 8 * num_train * 64  # the teacher's hidden layer
        return 3 * 8 * num_train * (d_in + 1) + extra

    def mlp_params(self, width: int, depth: int) -> int:
        """Parameters of an MLP with ``depth`` hidden layers of ``width`` (a residual MLP's
        ``depth`` blocks counted as full width x width matrices: errs high)."""
        d_in, k = self.io_dims()
        return d_in * width + depth * width * width + (depth + 2) * width + width * k + k


def init_seeds(seed: int, count: int) -> list[int]:
    """The initialization seeds of ``count`` networks of one configuration."""
    return [derive_seed(seed, "init", i) for i in range(count)]


def task_data(
    task: str, num_train: int, input_dim: int, data_seed: int
) -> tuple[torch.Tensor, torch.Tensor, str, int]:
    """(X, y, loss name, number of outputs) of a task, float64 on the CPU."""
    if task == "teacher-student":
        g = torch_generator(data_seed, "teacher-student")
        X = torch.randn(num_train, input_dim, generator=g, dtype=torch.float64)
        W = torch.randn(input_dim, 64, generator=g, dtype=torch.float64)
        a = torch.randn(64, generator=g, dtype=torch.float64)
        y = torch.tanh(X @ W / input_dim**0.5) @ a  # (n,) teacher outputs
        return X, (y - y.mean()) / y.std(), "mse", 1
    from lmech.data.cache import fashion_mnist  # raises DataUnavailableError

    data = fashion_mnist()  # the one cached copy; rows 0..59,999 are the training split
    labels = data.labels[:60_000]
    idx = rng(data_seed, "fashion-mnist subset").choice(len(labels), num_train, replace=False)
    x = torch.tensor(data.pixels[idx], dtype=torch.float64).reshape(-1, 1, 28, 28) / 255.0
    x = torch.nn.functional.avg_pool2d(x, 2).reshape(num_train, -1)  # (n, 196)
    X = (x - x.mean(0)) / x.std()
    return X, torch.tensor(labels[idx]), "cross_entropy", 10


def learning_rates(log2_min: float, log2_max: float, per_octave: int) -> np.ndarray:
    """The grid 2^k for k from log2_min to log2_max in steps of 1/per_octave."""
    count = int(round((log2_max - log2_min) * per_octave)) + 1
    return 2.0 ** np.linspace(log2_min, log2_max, count)


def capped(loss: np.ndarray, cap: float) -> np.ndarray:
    """Losses with diverged (non-finite or above ``cap``) runs set to ``cap``."""
    loss = np.asarray(loss, float)
    return np.where(np.isfinite(loss), np.minimum(loss, cap), cap)


def budget_bytes(budget_gib: float) -> tuple[int, str]:
    """(bytes, where from) of a ``memory_budget_gib`` value: the value itself, or for 0
    :data:`AUTO_BUDGET_FRACTION` of :func:`lmech._memory.memory_limit` (host RAM)."""
    if budget_gib > 0:
        return int(budget_gib * _GIB), f"memory_budget_gib={budget_gib:g}"
    limit, source = memory_limit()
    return int(AUTO_BUDGET_FRACTION * limit), (
        f"memory_budget_gib=0: {AUTO_BUDGET_FRACTION:.0%} of the limit of {format_bytes(limit)} "
        f"({source})"
    )


def members_per_chunk(fixed: int, per_member: int, members: int, budget_gib: float) -> int:
    """The most members (1..``members``) one chunk may hold: fixed + k per_member <= budget.

    ``fixed`` is what the run holds whatever the chunk (data, interpreter, shared
    models), ``per_member`` what each member of a chunk adds (both erring high). An
    explicit budget (``budget_gib`` > 0) below ``fixed + per_member`` is a ConfigError;
    an automatic one (0) never goes below one member (the runner then refuses the spec
    if that member exceeds the whole memory limit: :meth:`memory_bytes` declares it).
    """
    budget, source = budget_bytes(budget_gib)
    k = (budget - fixed) // per_member
    if k < 1:
        if budget_gib > 0:
            least = math.ceil(1000 * (fixed + per_member) / _GIB) / 1000  # GiB, rounded up
            raise ConfigError(
                f"a memory budget of {format_bytes(budget)} ({source}) cannot hold one member: "
                f"one needs {format_bytes(per_member)} on top of {format_bytes(fixed)} for the "
                f"data and the interpreter ({format_bytes(fixed + per_member)} in all); raise "
                f"memory_budget_gib to at least {least:g}, set it to 0 "
                "(automatic) or make the largest network smaller"
            )
        k = 1
    return int(min(k, members))


def chunks(count: int, size: int) -> list[range]:
    """Consecutive ranges of at most ``size`` indices covering 0..count-1."""
    if size < 1:
        raise InputError(f"a chunk needs at least one member; got size {size!r}")
    return [range(a, min(a + size, count)) for a in range(0, count, size)]
