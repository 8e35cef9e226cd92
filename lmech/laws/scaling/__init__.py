"""Scaling laws: the Chinchilla fit on synthetic runs and the solvable random-feature model."""
