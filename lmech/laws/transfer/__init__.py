"""Hyperparameter transfer laws: muP coordinate checks, learning-rate transfer across width and depth, lazy vs rich training (Yang et al. Tensor Programs IV-VI; Chizat et al. 2019)."""
