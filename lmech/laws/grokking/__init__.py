"""Grokking laws: Li^2 feature emergence (Tian 2025, arXiv 2509.21519) and the CoGS algebra of two-layer quadratic networks (Tian 2025, arXiv 2410.01779)."""
