"""scikit-learn's bundled 8x8 digits (1,797 images, offline), as float arrays."""

from __future__ import annotations

import numpy as np

from lmech.errors import DataUnavailableError

__all__ = ["load_digits_data", "one_hot_targets"]


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 64) scaled to [0, 1] (pixel / 16) and integer labels (1797,)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - sklearn is a core dependency
        raise DataUnavailableError(
            f"digits need scikit-learn ({err}); install it with `pip install scikit-learn`"
        ) from None
    bunch = load_digits()
    return bunch.data.astype(np.float64) / 16.0, bunch.target.astype(np.int64)


def one_hot_targets(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Centered one-hot targets (n, C): e_y - 1/C, so the class-average target is zero."""
    out = np.full((labels.size, num_classes), -1.0 / num_classes)
    out[np.arange(labels.size), labels] += 1.0
    return out
