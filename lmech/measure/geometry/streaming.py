r"""Streaming accumulators of the linear statistics: covariance and linear CKA in one pass.

Rows arrive in batches (``update(X_batch)``); only p x p (and p1 x p2) float64 sums are
kept, so an n x p representation never has to sit in memory. To limit cancellation, the
sums are taken about a *shift* (the first batch's mean unless given): every statistic
below is exactly invariant to that shift, and with the shift near the mean the sums stay
of the order of the centred ones.

- :class:`Moments`: mean, covariance and its spectrum of one representation;
- :class:`StreamingCKA`: linear CKA (biased, Kornblith et al. 2019 eq. (4) in feature
  space, or debiased with the unbiased HSIC of Song et al. 2012, Theorem 1) between two
  representations of the same inputs.

Debiased linear HSIC from sums (K = X X^T, K~ its zero-diagonal copy, a_i = |x_i|^2,
S_x = sum_i x_i, C_xy = X^T Y):

.. math::
    n(n-3)\,\mathrm{HSIC}_u = \mathrm{tr}(\tilde K\tilde L)
      + \frac{(1^T\tilde K 1)(1^T\tilde L 1)}{(n-1)(n-2)} - \frac{2}{n-2}1^T\tilde K\tilde L 1,

with :math:`\mathrm{tr}(\tilde K\tilde L) = \|C_{xy}\|_F^2 - \sum_i a_i b_i`,
:math:`1^T\tilde K 1 = |S_x|^2 - \sum_i a_i` and
:math:`1^T\tilde K\tilde L 1 = S_x^T C_{xy} S_y - S_y\cdot\sum_i a_i y_i - S_x\cdot\sum_i b_i x_i
+ \sum_i a_i b_i`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from lmech.errors import InputError
from lmech.measure.geometry._input import as_matrix, to_numpy

__all__ = ["Moments", "StreamingCKA"]


class Moments:
    """Running mean and covariance of a representation, fed in row batches.

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).standard_normal((1000, 5))
        >>> m = Moments()
        >>> for i in range(0, 1000, 300):
        ...     _ = m.update(X[i:i + 300])
        >>> bool(np.allclose(m.covariance(), np.cov(X.T), rtol=1e-12, atol=1e-14))
        True
    """

    def __init__(self, shift=None, *, device=None) -> None:
        self.device = device
        self._shift = None if shift is None else torch.as_tensor(shift, dtype=torch.float64)
        self.n = 0

    def update(self, X) -> Moments:
        T = as_matrix(X, "batch", device=self.device)
        if self._shift is None:
            self._shift = T.mean(dim=0)
        self._shift = self._shift.to(T.device)
        if self.n == 0:
            p = T.shape[1]
            if self._shift.shape != (p,):
                raise InputError(f"shift must have {p} entries; got {tuple(self._shift.shape)}")
            self._s = torch.zeros(p, dtype=torch.float64, device=T.device)
            self._c = torch.zeros(p, p, dtype=torch.float64, device=T.device)
        elif T.shape[1] != self._s.shape[0]:
            raise InputError(f"every batch needs {self._s.shape[0]} features; got {T.shape[1]}")
        Z = T - self._shift
        self._s += Z.sum(dim=0)
        self._c += Z.T @ Z
        self.n += T.shape[0]
        return self

    def _need(self, rows: int) -> None:
        if self.n < rows:
            raise InputError(f"need at least {rows} rows before reading statistics; got {self.n}")

    def mean(self) -> np.ndarray:
        self._need(1)
        return to_numpy(self._shift + self._s / self.n)

    def covariance(self) -> np.ndarray:
        """The unbiased sample covariance (1/(n - 1) normalization), (p, p)."""
        self._need(2)
        c = self._c - torch.outer(self._s, self._s) / self.n
        return to_numpy((c + c.T) / (2 * (self.n - 1)))

    def eigenvalues(self) -> np.ndarray:
        """Descending covariance eigenvalues (negative round-off clipped to 0)."""
        cov = self.covariance()
        raw = float(
            torch.trace(self._c) + 2 * self._shift @ self._s + self.n * self._shift @ self._shift
        )
        if not np.trace(cov) * (self.n - 1) > 1e-20 * raw:
            raise InputError(
                f"the representation is constant (all {self.n} rows are the same point); its "
                "spectrum is undefined; pass a representation that varies across samples"
            )
        lam = np.linalg.eigvalsh(cov)[::-1]
        return np.clip(lam, 0.0, None)


def _check_pair(X, Y, device):
    Tx = as_matrix(X, "X batch", device=device)
    Ty = as_matrix(Y, "Y batch", device=Tx.device)
    if Tx.shape[0] != Ty.shape[0]:
        raise InputError(
            f"X and Y must hold the same inputs (rows); got {Tx.shape[0]} and {Ty.shape[0]} rows"
        )
    return Tx, Ty


class StreamingCKA:
    """Linear CKA of two representations of the same inputs, accumulated over row batches.

    ``update(X_batch, Y_batch)`` adds rows (the i-th row of both is the same input);
    ``cka(debiased=False)`` returns the value for all rows so far. Memory is
    O(p1 p2 + p1^2 + p2^2) whatever n.

    The result equals :func:`lmech.measure.geometry.similarity.linear_cka` on the stacked
    rows up to round-off.
    """

    def __init__(self, shift_x=None, shift_y=None, *, device=None) -> None:
        self.device = device
        self._sx = None if shift_x is None else torch.as_tensor(shift_x, dtype=torch.float64)
        self._sy = None if shift_y is None else torch.as_tensor(shift_y, dtype=torch.float64)
        self.n = 0

    def update(self, X, Y) -> StreamingCKA:
        Tx, Ty = _check_pair(X, Y, self.device)
        dev = Tx.device
        if self.n == 0:
            p1, p2 = Tx.shape[1], Ty.shape[1]
            self._sx = Tx.mean(dim=0) if self._sx is None else self._sx.to(dev)
            self._sy = Ty.mean(dim=0) if self._sy is None else self._sy.to(dev)
            z = lambda *s: torch.zeros(*s, dtype=torch.float64, device=dev)  # noqa: E731
            self.Sx, self.Sy = z(p1), z(p2)
            self.Cxy, self.Cxx, self.Cyy = z(p1, p2), z(p1, p1), z(p2, p2)
            self.aa, self.bb, self.ab, self.a, self.b = z(()), z(()), z(()), z(()), z(())
            self.ax, self.by, self.ay, self.bx = z(p1), z(p2), z(p2), z(p1)
        elif Tx.shape[1] != self.Sx.shape[0] or Ty.shape[1] != self.Sy.shape[0]:
            raise InputError(
                f"every batch needs {self.Sx.shape[0]} X and {self.Sy.shape[0]} Y features; "
                f"got {Tx.shape[1]} and {Ty.shape[1]}"
            )
        Zx, Zy = Tx - self._sx, Ty - self._sy
        a, b = (Zx * Zx).sum(dim=1), (Zy * Zy).sum(dim=1)  # row squared norms
        self.Sx += Zx.sum(dim=0)
        self.Sy += Zy.sum(dim=0)
        self.Cxy += Zx.T @ Zy
        self.Cxx += Zx.T @ Zx
        self.Cyy += Zy.T @ Zy
        self.aa += a @ a
        self.bb += b @ b
        self.ab += a @ b
        self.a += a.sum()
        self.b += b.sum()
        self.ax += a @ Zx
        self.by += b @ Zy
        self.ay += a @ Zy
        self.bx += b @ Zx
        self.n += Tx.shape[0]
        return self

    # n(n-3) HSIC_u for the pairs (K, L), (K, K), (L, L)
    def _hsic_u(self) -> tuple[float, float, float]:
        n = self.n
        c1, c2 = 1.0 / ((n - 1) * (n - 2)), 2.0 / (n - 2)
        one_k = self.Sx @ self.Sx - self.a
        one_l = self.Sy @ self.Sy - self.b
        tr_kl = (self.Cxy * self.Cxy).sum() - self.ab
        kl1 = self.Sx @ self.Cxy @ self.Sy - self.Sy @ self.ay - self.Sx @ self.bx + self.ab
        tr_kk = (self.Cxx * self.Cxx).sum() - self.aa
        kk1 = self.Sx @ self.Cxx @ self.Sx - 2 * (self.Sx @ self.ax) + self.aa
        tr_ll = (self.Cyy * self.Cyy).sum() - self.bb
        ll1 = self.Sy @ self.Cyy @ self.Sy - 2 * (self.Sy @ self.by) + self.bb
        xy = tr_kl + one_k * one_l * c1 - c2 * kl1
        xx = tr_kk + one_k * one_k * c1 - c2 * kk1
        yy = tr_ll + one_l * one_l * c1 - c2 * ll1
        return float(xy), float(xx), float(yy)

    def _hsic_biased(self) -> tuple[float, float, float]:
        n = self.n
        cxy = self.Cxy - torch.outer(self.Sx, self.Sy) / n  # Xc^T Yc
        cxx = self.Cxx - torch.outer(self.Sx, self.Sx) / n
        cyy = self.Cyy - torch.outer(self.Sy, self.Sy) / n
        return float((cxy * cxy).sum()), float((cxx * cxx).sum()), float((cyy * cyy).sum())

    def _check_variance(self) -> None:
        # total centred variance against the raw sum of squares: below 1e-20 (relative
        # round-off of 1e-10 in the values) the representation is constant
        n = self.n
        for name, C, S, shift in (
            ("X", self.Cxx, self.Sx, self._sx),
            ("Y", self.Cyy, self.Sy, self._sy),
        ):
            var = float(torch.trace(C) - S @ S / n)
            raw = float(torch.trace(C) + 2 * shift @ S + n * shift @ shift)
            if not var > 1e-20 * raw:
                raise InputError(
                    f"representation {name} is constant (all {n} rows are the same point, zero "
                    "variance); CKA is undefined (0/0); pass a representation that varies "
                    "across samples"
                )

    def hsic(self, debiased: bool = False) -> tuple[float, float, float]:
        """(HSIC(X, Y), HSIC(X, X), HSIC(Y, Y)), unnormalized (the n-factors cancel in CKA)."""
        least = 4 if debiased else 2
        if self.n < least:
            raise InputError(
                f"{'debiased' if debiased else 'linear'} CKA needs at least {least} rows; "
                f"got {self.n}"
            )
        self._check_variance()
        return self._hsic_u() if debiased else self._hsic_biased()

    def cka(self, debiased: bool = False) -> float:
        """Linear CKA of all rows so far; see :func:`~lmech.measure.geometry.linear_cka`."""
        xy, xx, yy = self.hsic(debiased)
        return _ratio(xy, xx, yy, debiased)


def _ratio(xy: float, xx: float, yy: float, debiased: bool) -> float:
    """CKA = HSIC(X, Y)/sqrt(HSIC(X, X) HSIC(Y, Y)), refusing a zero self-similarity."""
    for name, v in (("X", xx), ("Y", yy)):
        if not v > 0:
            what = (
                "its debiased self-HSIC is <= 0 (too few rows for the unbiased estimator, "
                "or a constant representation)"
                if debiased
                else "it is constant (zero variance)"
            )
            raise InputError(
                f"CKA is undefined: representation {name} has HSIC({name}, {name}) = {v:.3g}, "
                f"{what}; pass more rows or a representation that varies"
            )
    value = xy / np.sqrt(xx * yy)
    if not debiased and value > 1 + 1e-9:
        warnings.warn(
            f"linear CKA = {value!r} exceeds 1 beyond round-off", RuntimeWarning, stacklevel=2
        )
    return float(value)
