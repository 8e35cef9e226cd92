"""HEA laws: kernel eigenvalues and learning curves from raw data statistics, the Hermite
eigenstructure ansatz (Karkada, Turnbull, Liu, Simon 2025)."""
