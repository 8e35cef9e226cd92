"""Infinite-width laws: the NNGP and NTK of wide networks, at initialization and in training."""
