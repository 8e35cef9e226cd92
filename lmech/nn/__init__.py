"""Torch models and parameterizations (SP/NTK/muP/mean-field, richness, depth scaling).

One :class:`MLPSpec` gives both the torch network (``build(spec, param)``, or
``spec.ntk_network()`` in NTK parameterization) and that network's infinite-width
kernels (``spec.nngp()``, ``spec.ntk()``). The engines that train them (vmapped
ensembles, the coordinate check, group training) are in :mod:`lmech.experiment`."""

from lmech.nn.models import ACTIVATION_NAMES, MLP, Dense, MLPSpec, activation_fn, build
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
    "ACTIVATION_NAMES",
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
    "Dense",
    "build",
]
