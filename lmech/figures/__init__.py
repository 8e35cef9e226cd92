"""Figure helpers for users: one module per law family (theory lines over measurements)."""
