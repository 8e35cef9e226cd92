"""Torch models, parameterizations (SP/NTK/muP/mean-field, richness, depth scaling),
ensembles trained as one vmapped program, and the coordinate check."""

from lmech.nn.coord import coord_check, coord_figure, coord_slopes
from lmech.nn.ensemble import Ensemble, EnsembleRun, train
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
    "Ensemble",
    "EnsembleRun",
    "train",
    "coord_check",
    "coord_slopes",
    "coord_figure",
]
