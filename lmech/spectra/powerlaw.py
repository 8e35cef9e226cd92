"""Power-law spectra and target coefficients (the eigensystem is known exactly)."""

from __future__ import annotations

import numbers

import numpy as np

from lmech._memory import check_allocation
from lmech._validate import as_positive_int
from lmech.errors import InputError


def _real(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise InputError(f"{name} must be a real number; got {type(x).__name__} {x!r:.40}")
    return float(x)


__all__ = ["power_law"]


def power_law(num_modes: int, exponent: float, *, total: float = 1.0) -> np.ndarray:
    r"""Values :math:`a_i = C\, i^{-\alpha}`, i = 1..P, normalized so :math:`\sum_i a_i` = ``total``.

    Used for eigenvalues :math:`\lambda_i \propto i^{-\alpha}` and for target powers
    :math:`v_i^2 \propto i^{-\beta}`.
    """
    num_modes = as_positive_int(num_modes, "num_modes")
    check_allocation(16 * num_modes, f"a power law of {num_modes} modes", "use fewer modes")
    exponent = _real(exponent, "power-law exponent")
    total = _real(total, "total")
    if not np.isfinite(exponent) or exponent < 0:
        raise InputError(f"power-law exponent must be finite and >= 0; got {exponent!r}")
    if not (total > 0 and np.isfinite(total)):
        raise InputError(f"total must be positive and finite; got {total!r}")
    a = np.arange(1, num_modes + 1, dtype=np.float64) ** (-float(exponent))
    return a * (total / a.sum())
