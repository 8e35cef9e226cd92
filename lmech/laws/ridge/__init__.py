"""High-dimensional ridge and random-feature regression: deterministic equivalents, double descent, GCV."""
