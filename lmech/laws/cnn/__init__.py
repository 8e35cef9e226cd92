"""Infinite-width kernels of convolutional, pooling and residual networks (lmech.kernels.stax)."""
