"""In-context learning of linear regression by linear attention (Lu et al. 2025 and follow-ups)."""
