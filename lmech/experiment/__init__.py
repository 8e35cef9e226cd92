"""Measurement engines: the functions experiments call, each returning tidy tables.

- :mod:`lmech.experiment.krr`: the kernel-ridge learning curve (one Gram per trial, a
  ridge path by band reduction, Cholesky or eigendecomposition);
- :mod:`lmech.experiment.pool`: held-out pool splits of a real dataset;
- :mod:`lmech.experiment.ensemble`: many networks trained as one vmapped program;
- :mod:`lmech.experiment.coord`: the coordinate check of a parameterization;
- :mod:`lmech.experiment.group`: Li^2 networks on the pairs of a finite group;
- :mod:`lmech.experiment.random_features`: the solvable random-feature model.

Laws call engines; an engine never imports a law.
"""

from lmech.experiment.coord import coord_check, coord_figure, coord_slopes
from lmech.experiment.ensemble import Ensemble, EnsembleRun, train
from lmech.experiment.group import train_on_group
from lmech.experiment.krr import TrialData, krr_learning_curve, ridge_path

__all__ = [
    "TrialData",
    "krr_learning_curve",
    "ridge_path",
    "Ensemble",
    "EnsembleRun",
    "train",
    "coord_check",
    "coord_slopes",
    "coord_figure",
    "train_on_group",
]
