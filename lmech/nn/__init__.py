"""Torch models and parameterizations (SP/NTK/muP/mean-field, richness, depth scaling).

The engines that train them (vmapped ensembles, the coordinate check, group training)
are in :mod:`lmech.experiment`."""

from lmech.nn.mlp import NTKMLP, NTKDense, StackedMLP, activation_fn
from lmech.nn.models import MLP, MLPSpec, build
from lmech.nn.param import (
    LayerScaling,
    Parameterization,
    ParamRow,
    lr_factors,
    param_groups,
    param_table,
    parameterize,
)

__all__ = [
    "NTKDense",
    "NTKMLP",
    "StackedMLP",
    "activation_fn",
    "Parameterization",
    "LayerScaling",
    "ParamRow",
    "parameterize",
    "param_table",
    "param_groups",
    "lr_factors",
    "MLPSpec",
    "MLP",
    "build",
]
