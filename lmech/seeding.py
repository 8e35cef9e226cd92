"""One way to seed: independent random streams keyed by (seed, *keys).

Every random draw in lmech comes from a stream named by the run's seed and a tuple of
keys that say what the draw is for (``"train"``, a trial number, a group order, ...).
Streams come from :class:`numpy.random.SeedSequence`, whose spawned states are
statistically independent for distinct entropy, so two keys never share numbers and
adding a key never shifts the draws of another.

Keys may be non-negative or negative integers, strings, floats or bools. The seed of a
run is one integer in [0, 2^63 - 1] everywhere (``--seed``, sweeps, the Python API;
:func:`check_seed` says so for anything else), and every such seed gives valid streams. Negative integers are mapped by
the zigzag bijection (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...), strings and floats by a
SHA-256 digest, so every key becomes a distinct non-negative entropy word.

Examples:
    >>> from lmech.seeding import rng, derive_seed
    >>> a = rng(0, "train", 1).standard_normal(3)
    >>> b = rng(0, "train", 1).standard_normal(3)
    >>> bool((a == b).all()), bool((a == rng(0, "train", 2).standard_normal(3)).any())
    (True, False)
    >>> derive_seed(7, "init") == derive_seed(7, "init") != derive_seed(8, "init")
    True
"""

from __future__ import annotations

import hashlib

import numpy as np

from lmech.errors import ConfigError

__all__ = ["MAX_SEED", "check_seed", "seed_sequence", "rng", "derive_seed", "torch_generator"]

# the one seed range of lmech (CLI --seed, sweeps, Python API): 0 <= seed <= MAX_SEED
MAX_SEED = 2**63 - 1

Key = int | str | float | bool


def _word(key: Key) -> int:
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, (int, np.integer)):
        k = int(key)
        return 2 * k if k >= 0 else -2 * k - 1  # zigzag: a bijection onto k >= 0
    if isinstance(key, (str, float, np.floating)):
        text = key if isinstance(key, str) else f"float:{float(key)!r}"
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    raise ConfigError(
        f"a seed key must be an int, str, float or bool; got {type(key).__name__} ({key!r})"
    )


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int in [0, MAX_SEED], or a ConfigError saying what is accepted."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer in [0, 2^63 - 1]; got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ConfigError(
            f"{name} must be in [0, 2^63 - 1] (= {MAX_SEED}); got {int(seed)}; "
            "use a non-negative seed below 2^63"
        )
    return int(seed)


def seed_sequence(seed: int, *keys: Key) -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` of the stream (seed, *keys)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer; got {type(seed).__name__} ({seed!r})")
    # the key count is part of the entropy, so (s,) and (s, 0) are different streams
    return np.random.SeedSequence([_word(seed), len(keys), *(_word(k) for k in keys)])


def rng(seed: int, *keys: Key) -> np.random.Generator:
    """A numpy Generator (PCG64) for the stream (seed, *keys)."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, *keys)))


def derive_seed(seed: int, *keys: Key) -> int:
    """A 63-bit integer seed for the stream (seed, *keys) (for APIs that take an int)."""
    lo, hi = seed_sequence(seed, *keys).generate_state(2, np.uint32)
    return int((int(hi) << 32 | int(lo)) & (2**63 - 1))


def torch_generator(seed: int, *keys: Key, device: str = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded from the stream (seed, *keys).

    Draws from a CPU generator are the same on every machine; laws that must give the
    same numbers on CPU and CUDA draw on the CPU and move the tensors.
    """
    import torch

    return torch.Generator(device=device).manual_seed(derive_seed(seed, *keys))
