"""Dynamical mean field theory of wide networks: lazy limit, rich two-layer dynamics."""
