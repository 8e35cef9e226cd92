"""Boundary checks shared by the geometry estimators: numpy or torch in, float64 torch out."""

from __future__ import annotations

import numpy as np
import torch

from lmech._validate import real_array
from lmech.errors import DeviceError, InputError

__all__ = ["as_matrix", "centre", "check_not_constant", "resolve_device", "to_numpy"]


def resolve_device(X, device) -> torch.device:
    """The device to compute on: ``device`` if given, else that of a tensor ``X``, else CPU."""
    if device is not None:
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} was requested but CUDA is not available")
        return dev
    if isinstance(X, torch.Tensor):
        return X.device
    return torch.device("cpu")


def as_matrix(X, name: str = "X", *, device=None, min_rows: int = 1) -> torch.Tensor:
    """``X`` (n, p) numpy array or torch tensor as a finite float64 tensor on ``device``.

    Raises:
        InputError: not 2-D, fewer than ``min_rows`` rows, no columns, NaN/inf entries,
            complex or non-numeric values.
    """
    dev = resolve_device(X, device)
    if isinstance(X, torch.Tensor):
        if X.is_complex():
            raise InputError(f"{name} must be real; got a complex tensor ({X.dtype})")
        T = X.detach().to(device=dev, dtype=torch.float64)
    else:
        T = torch.from_numpy(np.ascontiguousarray(real_array(X, name))).to(dev)
    if T.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D (n samples, p features) array; got shape {tuple(T.shape)}; "
            "flatten the feature axes first (X.reshape(len(X), -1))"
        )
    n, p = T.shape
    if p == 0:
        raise InputError(f"{name} must have at least one feature column; got shape {(n, p)}")
    if n < min_rows:
        raise InputError(f"{name} needs at least {min_rows} rows (samples); got {n}")
    bad = ~torch.isfinite(T)
    if bool(bad.any()):
        rows = torch.nonzero(bad.any(dim=1)).flatten()[:5].tolist()
        raise InputError(
            f"{name} must be finite; got {int(bad.sum())} NaN/inf entries in rows {rows}"
            f"{' ...' if int(bad.any(dim=1).sum()) > 5 else ''}; drop or impute those rows"
        )
    return T


def check_not_constant(Xc: torch.Tensor, name: str, scale: torch.Tensor | float) -> None:
    """Refuse a centred representation with no variance (every row the same point).

    ``scale`` is a magnitude of the uncentred data; a centred norm below 1e-12 of it is
    round-off, not variance.
    """
    norm = float(torch.linalg.matrix_norm(Xc))
    if not norm > 1e-12 * float(scale):
        raise InputError(
            f"{name} is constant (all {Xc.shape[0]} rows are the same point, zero variance); "
            "its similarity or spectrum is undefined (0/0); pass a representation that varies "
            "across samples"
        )


def centre(X: torch.Tensor, name: str, *, check: bool = True) -> torch.Tensor:
    """Column-centred copy H X (H = I - 11^T/n), refusing a constant representation."""
    Xc = X - X.mean(dim=0, keepdim=True)
    if check:
        check_not_constant(Xc, name, max(float(torch.linalg.matrix_norm(X)), 1e-300))
    return Xc


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
