"""Held-out pool splits of a real dataset, and the KRR learning curve measured on the rest.

A seeded permutation splits the samples into a *pool* (which a theory may read, e.g. to
estimate an eigensystem or a Hermite decomposition) and the *rest*, from which every
measurement trial draws its training and test sets; the theory never sees a measured
sample. Both draws come from :mod:`lmech.seeding` streams: the split from
``(split_seed, "pool-split")``, trial t's draw from ``(seed, "pool-trial", t)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lmech.errors import ConfigError
from lmech.experiment.krr import TrialData, krr_learning_curve
from lmech.kernels.base import Kernel
from lmech.seeding import rng

__all__ = ["split_pool", "held_out_pool_experiment"]


def split_pool(num: int, pool_size: int, split_seed: int, needed: int):
    """(pool indices, the rest) of a seeded permutation of ``range(num)``.

    Raises:
        ConfigError: the pool leaves fewer than ``needed`` samples (the largest training
            size plus the test points a trial needs) outside it.
    """
    perm = rng(split_seed, "pool-split").permutation(num)
    pool, rest = perm[:pool_size], perm[pool_size:]
    if needed > rest.size:
        raise ConfigError(
            f"the largest size plus test points ({needed}) exceeds the {rest.size} samples "
            f"outside the pool of {pool_size} (of {num}); lower them or pool_size"
        )
    return pool, rest


def held_out_pool_experiment(
    kernel: Kernel,
    X,
    Y: np.ndarray,
    rest: np.ndarray,
    sizes,
    ridges,
    trials: int | tuple[int, ...],
    *,
    seed: int,
    device: str,
    test_points: int | None = None,
) -> pd.DataFrame:
    """Measured KRR curve: each trial shuffles ``rest`` (indices not in the pool), trains on
    the first n_max (prefixes give smaller n) and tests on the next ``test_points`` (all
    remaining when None). ``trials``: one count, or one per size.

    ``X`` is an array ``(N, D)`` or any object whose ``X[indices]`` gives the float64 rows
    (e.g. :class:`lmech.data.cache.Features`, which keeps no float copy of the data set).
    """

    def sample(trial: int, n_max: int) -> TrialData:
        order = rng(seed, "pool-trial", trial).permutation(rest)
        stop = None if test_points is None else n_max + test_points
        train, test = order[:n_max], order[n_max:stop]
        return TrialData(
            torch.from_numpy(np.asarray(X[train])),
            torch.from_numpy(np.asarray(Y[train])),
            torch.from_numpy(np.asarray(X[test])),
            torch.from_numpy(np.asarray(Y[test])),
        )

    return krr_learning_curve(kernel, sample, sizes, ridges, trials, device=device)
