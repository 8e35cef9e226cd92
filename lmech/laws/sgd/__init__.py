"""SGD laws: exact expected-loss dynamics of SGD on linear models (Bordelon & Pehlevan 2022; Paquette et al. 2024; Meterez et al. 2025-2026)."""
