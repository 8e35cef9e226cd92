r"""Predict a kernel's learning curve from raw data statistics (the HEA pipeline).

:func:`predict_learning_curve` answers "what test MSE will kernel regression reach on
this data at n = 10^3, 10^4, 10^5?" without solving one regression: the kernel's
eigenvalues come from the Hermite eigenstructure ansatz (:mod:`lmech.spectra.hea`) on
the data covariance, the target's eigencoefficients from a Hermite decomposition of the
labels, and the learning curve from eigenlearning (:mod:`lmech.theory.eigenlearning`).

Pipeline (Karkada, Turnbull, Liu, Simon 2025, arXiv 2510.14878, code
``expts/learning_curves.py``):

1. centre X; PCA of its covariance gives :math:`\gamma_i` and whitened coordinates
   :math:`z_i` (directions with :math:`\gamma_i \le 10^{-12}\gamma_1` are dropped);
2. level coefficients :math:`c_l` of the kernel on the shell :math:`|x|^2 = \operatorname{Tr}\Sigma`;
3. the top ``num_modes`` HEA eigenvalues :math:`\lambda_\alpha`;
4. the Hermite features of those modes on the samples, Gram-Schmidt (QR) in HEA order,
   and the labels projected: :math:`\hat v`; the unexplained power
   :math:`E[y^2] - \sum \hat v^2` is treated as label noise;
5. the kernel's missing trace :math:`E[K(x, x)] - \sum_\alpha \lambda_\alpha` is added to the
   ridge (tail modes far below the effective ridge act as ridge);
6. eigenlearning on the (n, ridge) grid.

The regression being predicted is KRR with ridge delta on the raw Gram matrix,
:math:`\hat f = k(x)^\top (K + \delta I)^{-1} y`, on the *centred* data (for
translation-invariant kernels such as RBF and Laplace centring changes nothing).

Example:
    >>> import numpy as np, lmech
    >>> from lmech.kernels import RBF
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((4000, 20)) * (np.arange(20) + 6.0) ** -1.0
    >>> y = np.sign(X[:, 0])
    >>> table = lmech.predict_learning_curve(X, y, RBF(bandwidth=0.5), n=[100, 1000])
    >>> list(table.columns[:3])
    ['n', 'ridge', 'test_mse']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech._memory import check_allocation
from lmech._validate import as_positive_int
from lmech.errors import InputError
from lmech.spectra.hea import (
    HEAModes,
    effective_dimension,
    hea_modes,
    hermite_features,
    level_coefficients,
    target_coefficients,
)

__all__ = [
    "HEADecomposition",
    "pca",
    "curve_figure",
    "dense_grid",
    "hea_decompose",
    "load_xy",
    "predict_learning_curve",
    "whiten",
]

_RELATIVE_RANK_TOL = 1e-12
#: Highest Hermite degree hea_decompose accepts (the default is 10).
MAX_HEA_DEGREE = 64


def _check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    try:
        X = np.asarray(X)
        y = np.asarray(y)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise InputError(
            f"X and y must be arrays of numbers; numpy cannot read them ({err})"
        ) from None
    if X.ndim != 2:
        raise InputError(
            f"X must be a 2-D array (samples x features); got shape {X.shape}"
            + (" (reshape a single feature to (-1, 1))" if X.ndim == 1 else "")
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"y must be 1-D (one target per sample); got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise InputError(
            f"X and y must have the same number of samples; got {X.shape[0]} and {y.shape[0]}"
        )
    for name, a in (("X", X), ("y", y)):
        if a.dtype.kind == "c":
            raise InputError(
                f"{name} must be real; got complex dtype {a.dtype}; pass the real part "
                f"({name}.real) or the modulus (abs({name})) explicitly"
            )
        if a.dtype.kind not in "biuf":
            raise InputError(
                f"X and y must be real numbers; got dtypes {X.dtype} and {y.dtype} (encode "
                "categories as numbers first)"
            )
    check_allocation(
        8 * 2 * (X.size + y.size), f"float64 copies of X {X.shape} and y", "pass fewer samples"
    )
    X = X.astype(np.float64)
    y = y.astype(np.float64)
    for name, a in (("X", X), ("y", y)):
        bad = ~np.isfinite(a)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])
            raise InputError(
                f"{name} holds {int(bad.sum())} NaN/infinite values (first rows: "
                f"{rows[:5].tolist()}); drop or impute them first"
            )
    if X.shape[0] < 3:
        raise InputError(f"need at least 3 samples; got {X.shape[0]}")
    return X, y


def pca(X: np.ndarray, *, centred: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covariance eigenvalues gamma (decreasing), eigenvectors U (columns) and the mean.

    Directions with gamma_i <= 1e-12 gamma_1 (e.g. constant pixels) are dropped. With
    ``centred=True`` X is taken as already centred (its mean is returned, ~0).
    """
    mean = X.mean(axis=0)
    Xc = X if centred else X - mean
    gamma, U = np.linalg.eigh(Xc.T @ Xc / Xc.shape[0])
    order = np.argsort(gamma)[::-1]
    gamma, U = gamma[order], U[:, order]
    if not gamma[0] > 0:
        raise InputError("X has no variance (every sample is the same point)")
    keep = gamma > _RELATIVE_RANK_TOL * gamma[0]
    return gamma[keep], U[:, keep], mean


def whiten(X: np.ndarray, components: int | None = None):
    """Centre X and return (covariance eigenvalues gamma, whitened coordinates Z, mean).

    gamma is decreasing; Z[:, i] = (X - mean) u_i / sqrt(gamma_i) has unit empirical
    variance, for the first ``components`` directions (all by default). Directions with
    gamma_i <= 1e-12 gamma_1 (e.g. constant pixels) are dropped.
    """
    gamma, U, mean = pca(X)
    r = gamma.size if components is None else min(int(components), gamma.size)
    return gamma, ((X - mean) @ U[:, :r]) / np.sqrt(gamma[:r]), mean


def _mean_diagonal(kernel, X: np.ndarray, mean: np.ndarray) -> float:
    """E[K(x, x)] over the centred samples (exactly 1 for RBF and Laplace)."""
    import torch

    from lmech.kernels.base import RBF, Laplace

    if isinstance(kernel, (RBF, Laplace)):
        return 1.0
    X = torch.from_numpy(X - mean)
    diag = getattr(kernel, "diag", None)
    if callable(diag):
        return float(diag(X).mean())
    total = 0.0
    for i in range(0, X.shape[0], 256):  # diagonals of 256 x 256 blocks
        block = X[i : i + 256]
        total += float(torch.diagonal(kernel.block(block, block)).sum())
    return total / X.shape[0]


@dataclass(frozen=True)
class HEADecomposition:
    """A kernel's HEA eigensystem and a target's coefficients on it, from data statistics.

    Attributes:
        eigenvalues: the top P HEA eigenvalues (kernel units), decreasing.
        coefficients: the target's coefficients on the corresponding orthonormalized
            eigenfunctions (y units); :math:`\\sum` coefficients^2 is the explained power.
        noise_variance: E[y^2] - sum coefficients^2, treated as label noise.
        tail: E[K(x, x)] - sum eigenvalues (>= 0), added to the ridge.
        modes: the multi-indices (:class:`lmech.spectra.hea.HEAModes`).
        data_eigenvalues: covariance eigenvalues gamma (decreasing).
        level_coefficients: c_0..c_D in normalized units.
        trace_kernel: E[K(x, x)].
        target_power: E[y^2].
    """

    eigenvalues: np.ndarray
    coefficients: np.ndarray
    noise_variance: float
    tail: float
    modes: HEAModes
    data_eigenvalues: np.ndarray
    level_coefficients: np.ndarray
    trace_kernel: float
    target_power: float

    @property
    def effective_dimension(self) -> float:
        return effective_dimension(self.data_eigenvalues)

    @property
    def explained_fraction(self) -> float:
        """Share of E[y^2] captured by the P modes."""
        return float((self.coefficients**2).sum() / self.target_power)

    def learning_curve(self, n, ridge=0.0) -> pd.DataFrame:
        """Predicted KRR learning curve on the outer product of ``n`` and ``ridge``.

        Columns: ``n``, ``ridge`` (as given), ``test_mse`` (noisy test labels: the
        unexplained power counts as error), ``kappa``, ``overfitting_coefficient``,
        ``learnability``, ``effective_ridge`` (ridge + tail).
        """
        from lmech._validate import real_array
        from lmech.theory.eigenlearning import learning_curve

        ridges = np.atleast_1d(real_array(ridge, "ridge"))
        if ridges.ndim != 1 or not np.all(np.isfinite(ridges)) or np.any(ridges < 0):
            raise InputError(
                f"ridge must be >= 0 and finite (scalar or 1-D); got {str(ridge)[:80]}"
            )
        table = learning_curve(
            self.eigenvalues,
            self.coefficients,
            n,
            list(ridges + self.tail),
            noise_variance=self.noise_variance,
        )
        table["effective_ridge"] = table["ridge"]
        table["ridge"] = np.tile(ridges, len(table) // ridges.size)
        cols = ["n", "ridge", "test_mse", "kappa", "overfitting_coefficient", "learnability"]
        return table[[*cols, "effective_ridge"]]


def hea_decompose(
    X, y, kernel, *, num_modes: int = 2000, max_degree: int | None = None
) -> HEADecomposition:
    """Steps 1-5 of the pipeline (module docstring): everything but the (n, ridge) grid.

    Args:
        X: (N, d) samples (a pool drawn from the data distribution); N > num_modes.
        y: (N,) targets.
        kernel: an lmech kernel with an HEA expansion (RBF, Laplace, Polynomial, Linear,
            ReLU NNGP/NTK).
        num_modes: P, the number of HEA modes kept (the rest become ridge and noise).
        max_degree: highest Hermite degree (default: 10; 6 for Laplace).
    """
    X, y = _check_data(X, y)
    if isinstance(num_modes, bool) or not isinstance(num_modes, (int, np.integer)):
        raise InputError(f"num_modes must be a positive integer; got {num_modes!r:.60}")
    if not 1 <= num_modes < X.shape[0]:
        raise InputError(
            f"num_modes must be in [1, N - 1] = [1, {X.shape[0] - 1}] (the target "
            f"decomposition needs more samples than modes); got {num_modes}"
        )
    if max_degree is not None:
        max_degree = as_positive_int(max_degree, "max_degree", maximum=MAX_HEA_DEGREE)
    N, d = X.shape
    P = int(num_modes)
    # centred copy, covariance and its eigenvectors, whitened coordinates (at most N x d),
    # the Hermite features and their Gram matrix (N x P and P x P)
    check_allocation(
        8 * (2 * N * d + 3 * d * d + N * P + 2 * P * P + P * (max_degree or 10)),
        f"the HEA decomposition of {N} samples x {d} features with {P} modes",
        "lower num_modes or pass fewer samples or features",
    )
    mean = X.mean(axis=0)
    Xc = X - mean
    gamma, U, _ = pca(Xc, centred=True)
    trace = float(gamma.sum())
    c = level_coefficients(kernel, trace, max_degree, dimension=X.shape[1])
    modes = hea_modes(gamma, c, num_modes)
    power = float(np.mean(y * y))
    if power == 0:
        raise InputError("y is identically zero: there is nothing to predict")
    need = int(modes.indices.max(initial=-1)) + 1  # whitened coordinates the modes use
    Z = (Xc @ U[:, :need]) / np.sqrt(gamma[:need])
    coef = target_coefficients(hermite_features(Z, modes), y)
    trace_k = _mean_diagonal(kernel, X, mean)
    return HEADecomposition(
        eigenvalues=modes.eigenvalues,
        coefficients=coef,
        noise_variance=max(0.0, power - float((coef**2).sum())),
        tail=max(0.0, trace_k - float(modes.eigenvalues.sum())),
        modes=modes,
        data_eigenvalues=gamma,
        level_coefficients=c,
        trace_kernel=trace_k,
        target_power=power,
    )


def predict_learning_curve(
    X,
    y,
    kernel,
    n: int | Sequence[int],
    ridge: float | Sequence[float] = 0.0,
    *,
    num_modes: int = 2000,
    max_degree: int | None = None,
) -> pd.DataFrame:
    """Predicted KRR test MSE at sample sizes ``n`` from data statistics alone (HEA).

    Returns the table of :meth:`HEADecomposition.learning_curve`; its ``attrs`` hold the
    explained fraction of the target, the noise variance, the tail added to the ridge and
    the data's effective dimension. See the module docstring for the pipeline and
    :func:`hea_decompose` for the arguments.
    """
    dec = hea_decompose(X, y, kernel, num_modes=num_modes, max_degree=max_degree)
    table = dec.learning_curve(n, ridge)
    table.attrs.update(
        explained_fraction=dec.explained_fraction,
        noise_variance=dec.noise_variance,
        tail=dec.tail,
        effective_dimension=dec.effective_dimension,
        num_modes=len(dec.modes),
    )
    return table


# -- files (the `lmech predict` command) --------------------------------------------------

_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _file(path, what: str):
    """``Path(path)`` of an existing regular file; DataUnavailableError / InputError if not."""
    from pathlib import Path

    from lmech.errors import DataUnavailableError

    p = Path(path)
    try:
        if "\0" in str(p):
            raise ValueError("embedded null byte")
        exists, is_file = p.exists(), p.is_file()
    except (OSError, ValueError) as err:
        raise InputError(f"{what} {str(path)[:200]!r} is not a usable path ({err})") from None
    if not exists:
        raise DataUnavailableError(f"{what} {p} does not exist; check the path")
    if not is_file:
        raise InputError(f"{what} {p} is not a regular file (a directory?); pass the file")
    return p


def _read_table(path) -> pd.DataFrame:
    p = _file(path, "table file")
    size = p.stat().st_size
    if p.suffix.lower() == ".csv":
        # a numeric CSV parses to about as many float64 bytes as it has characters, and
        # pandas holds a few copies while it does
        check_allocation(8 * size, f"{p}: parsing this {size}-byte CSV file", "pass a smaller file")
    else:
        try:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(p).metadata
            cells = int(meta.num_rows) * int(meta.num_columns)
        except Exception as err:  # pyarrow raises its own hierarchy on a corrupt footer
            raise InputError(
                f"{p}: not a readable parquet file ({type(err).__name__}: {str(err)[:200]}); "
                "expected a .parquet table (e.g. written by DataFrame.to_parquet)"
            ) from None
        check_allocation(
            16 * cells, f"{p}: a parquet table of {cells} cells", "pass a smaller file"
        )
    try:
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except Exception as err:  # the parsers raise ValueError, OSError, their own errors
        raise InputError(
            f"{p}: could not read it as {p.suffix} ({type(err).__name__}: {str(err)[:200]}); "
            "expected a table of numeric columns with a header row"
        ) from None


def _read_vector(path) -> np.ndarray:
    from lmech.data.files import load_array_file

    p = _file(path, "target file")
    suffix = p.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        table = _read_table(p)
        if table.shape[1] != 1:
            raise InputError(
                f"{p}: a target file must have one column; got {table.shape[1]} "
                f"({list(table.columns)[:5]}); or pass --target COLUMN of the data file"
            )
        return table.iloc[:, 0].to_numpy()
    if suffix == ".txt":
        check_allocation(
            8 * p.stat().st_size, f"{p}: parsing this text file", "pass a smaller file"
        )
        try:
            return np.loadtxt(p, dtype=np.float64, ndmin=1)
        except (ValueError, UnicodeError) as err:
            raise InputError(
                f"{p}: not a plain list of numbers ({str(err)[:200]}); expected one real "
                "number per line"
            ) from None
    y, _ = load_array_file(p, y_key=None)
    return y


def _target_file(target: str, data, names: list[str]) -> np.ndarray:
    from pathlib import Path

    try:
        is_file = "\0" not in target and Path(target).is_file()
    except (OSError, ValueError):
        is_file = False
    if not is_file:
        raise InputError(
            f"--target {target[:100]!r} is neither a column/key of {data} (it has "
            f"{', '.join(map(str, names[:10]))}) nor an existing file"
        )
    return _read_vector(target)


def load_xy(data, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for ``lmech predict``.

    ``data``: .npy (X), .npz (X under key ``X`` or its only other array), .csv or
    .parquet (numeric columns). ``target``: a column (csv/parquet) or key (npz) of the
    data file, else a file holding y (.npy, .csv/.parquet with one column, .txt).

    Raises:
      DataUnavailableError: the data file (or the target file) does not exist.
      InputError: a file that cannot be read as its kind, non-numeric or complex columns,
        an unknown target, or arrays too large for the memory limit.
    """
    from lmech.data.files import array_file_keys, load_array_file

    p = _file(data, "data file")
    suffix = p.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        table = _read_table(p)
        if target in table.columns:
            y = table[target].to_numpy()
            X = table.drop(columns=[target])
        else:
            X, y = table, _target_file(target, p, list(table.columns))
        non_numeric = [
            c
            for c in X.columns
            if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_complex_dtype(X[c])
        ]
        if non_numeric:
            raise InputError(
                f"{p}: columns must hold real numbers; got non-numeric or complex "
                f"{non_numeric[:5]} (encode or drop them)"
            )
        if X.shape[1] == 0:
            raise InputError(f"{p}: no feature columns left besides the target {target!r}")
        return X.to_numpy(dtype=np.float64), y
    keys = array_file_keys(p)  # None for .npy; refuses anything else
    if keys is not None:
        if target in keys:
            others = [k for k in keys if k != target]
            x_key = "X" if "X" in others else (others[0] if len(others) == 1 else None)
            if x_key is None:
                raise InputError(f"{p}: cannot tell which array is X among {others}; name it 'X'")
            X, y = load_array_file(p, x_key=x_key, y_key=target)
            return X, y
        y = _target_file(target, p, keys)
        X, _ = load_array_file(p, x_key="X", y_key=None)
        return X, y
    y = _target_file(target, p, ["(a .npy file holds X only)"])
    X, _ = load_array_file(p, y_key=None)
    return X, y


def dense_grid(sizes, points: int = 60) -> np.ndarray:
    """The given sizes plus a log-spaced grid between their extremes (a smooth curve)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.size == 0 or np.any(sizes < 1):
        raise InputError(f"sample sizes must be positive integers; got {sizes.tolist()}")
    grid = np.geomspace(sizes.min(), sizes.max(), points).round().astype(np.int64)
    return np.unique(np.concatenate([sizes, grid]))


def curve_figure(table: pd.DataFrame, title: str = "HEA-predicted learning curve"):
    """Predicted test MSE vs n (log-log), one line per ridge."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.2, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for i, (ridge, t) in enumerate(table.groupby("ridge", sort=True)):
        t = t.sort_values("n")
        ax.plot(t["n"], t["test_mse"], color=f"C{i}", lw=1.8, label=f"ridge {ridge:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples n")
    ax.set_ylabel("predicted test MSE")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, frameon=False)
    return fig
