"""Fitting scaling laws to data: power laws, Chinchilla's L(N, D), bootstrap intervals.

The bootstrap pieces (:func:`resample_counts`, :func:`percentile_interval`) are public
(:mod:`lmech.fit.bootstrap`) for code that runs its own batched refits.

>>> from lmech.fit import fit_chinchilla
>>> res = fit_chinchilla(N, D, loss, bootstrap=1000)  # doctest: +SKIP
>>> res.table()  # doctest: +SKIP
"""

from lmech.fit._identify import IdentifiabilityWarning
from lmech.fit.allocation import compute_optimal_exponents, efficient_frontier
from lmech.fit.approaches import ComputeOptimalFit, fit_envelope, fit_isoflop
from lmech.fit.bootstrap import percentile_interval, resample_counts
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
    "IdentifiabilityWarning",
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
    "percentile_interval",
    "resample_counts",
]
