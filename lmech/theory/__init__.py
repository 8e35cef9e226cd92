"""Theories as small pure functions of float64 numpy arrays; nothing here imports torch."""

from __future__ import annotations

from lmech.theory.eigenlearning import (
    effective_ridge,
    learnabilities,
    learning_curve,
    overfitting_coefficient,
    target_learnability,
    test_mse,
    train_mse,
)

__all__ = [
    "effective_ridge",
    "learnabilities",
    "learning_curve",
    "overfitting_coefficient",
    "target_learnability",
    "test_mse",
    "train_mse",
]
