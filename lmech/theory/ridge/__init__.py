"""High-dimensional ridge and random-feature regression: deterministic equivalents.

Linear ridge and linear random-feature ridge with a general covariance and teacher
(:mod:`.linear`), nonlinear random features through the kernel eigensystem (the RF-KRR
eigenframework, :mod:`.eigenframework`), correlated samples and the risk estimators GCV,
CorrGCV and KARE (:mod:`.correlated`). Pure numpy/scipy, float64, vectorized over grids.

Examples:
    >>> import numpy as np
    >>> from lmech.theory.ridge import ridge_risk
    >>> s = 1.0 / np.arange(1, 101)  # a spectrum
    >>> r = ridge_risk(s, np.ones(100), samples=[50, 200], ridge=1e-2, noise_variance=0.1)
    >>> bool(r.test_error[1] < r.test_error[0])
    True
"""

from lmech.theory.ridge.correlated import (
    CorrelatedRisk,
    GCVEstimate,
    corr_gcv,
    correlated_ridge_risk,
    exponential_correlation,
    gcv,
    kare,
    nearest_neighbour_correlation,
)
from lmech.theory.ridge.eigenframework import RFKRRRisk, rf_krr_risk
from lmech.theory.ridge.linear import (
    RandomFeatureRisk,
    RidgeRisk,
    degrees_of_freedom,
    optimal_ridge,
    random_feature_risk,
    renormalized_ridge,
    ridge_risk,
)

__all__ = [
    "CorrelatedRisk",
    "GCVEstimate",
    "RFKRRRisk",
    "RandomFeatureRisk",
    "RidgeRisk",
    "corr_gcv",
    "correlated_ridge_risk",
    "degrees_of_freedom",
    "exponential_correlation",
    "gcv",
    "kare",
    "nearest_neighbour_correlation",
    "optimal_ridge",
    "random_feature_risk",
    "renormalized_ridge",
    "rf_krr_risk",
    "ridge_risk",
]
