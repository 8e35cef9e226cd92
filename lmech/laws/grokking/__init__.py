"""Grokking laws: Li^2 feature emergence on group tasks (Tian 2025, arXiv 2509.21519)."""
