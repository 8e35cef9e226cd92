"""Fitting scaling laws to data: power laws, Chinchilla's L(N, D), bootstrap intervals.

>>> from lmech.fit import fit_chinchilla
>>> res = fit_chinchilla(N, D, loss, bootstrap=1000)  # doctest: +SKIP
>>> res.table()  # doctest: +SKIP
"""

from lmech.fit.allocation import compute_optimal_exponents, efficient_frontier
from lmech.fit.approaches import ComputeOptimalFit, fit_envelope, fit_isoflop
from lmech.fit.chinchilla import (
    HOFFMANN_2022,
    ChinchillaFit,
    chinchilla_loss,
    fit_chinchilla,
    hoffmann_grid,
)
from lmech.fit.powerlaw import PowerLawFit, fit_powerlaw

__all__ = [
    "HOFFMANN_2022",
    "ChinchillaFit",
    "ComputeOptimalFit",
    "PowerLawFit",
    "chinchilla_loss",
    "compute_optimal_exponents",
    "efficient_frontier",
    "fit_chinchilla",
    "fit_envelope",
    "fit_isoflop",
    "fit_powerlaw",
    "hoffmann_grid",
]
