import numpy as np
import pytest
import torch

from lmech.errors import ConfigError
from lmech.seeding import derive_seed, rng, seed_sequence, torch_generator


def test_streams_are_reproducible_and_distinct():
    a = rng(0, "trial", 1).standard_normal(1000)
    assert np.array_equal(a, rng(0, "trial", 1).standard_normal(1000))
    for other in (rng(1, "trial", 1), rng(0, "trial", 2), rng(0, "test", 1), rng(0, "trial")):
        b = other.standard_normal(1000)
        # independent N(0,1) streams: the sample correlation is O(1/sqrt(1000)) ~ 0.03
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.15


@pytest.mark.parametrize("seed", [0, 1, -1, -(2**40), 2**70])
def test_any_integer_seed_is_valid_and_distinct(seed):
    assert derive_seed(seed) == derive_seed(seed)
    assert derive_seed(seed) != derive_seed(seed + 1)
    assert 0 <= derive_seed(seed, "x") < 2**63


def test_negative_and_positive_seeds_do_not_collide():
    seeds = {derive_seed(s) for s in range(-50, 50)}
    assert len(seeds) == 100


def test_key_types_and_bad_keys():
    assert derive_seed(0, 1.5) != derive_seed(0, "1.5") != derive_seed(0, 1)
    with pytest.raises(ConfigError, match="seed key"):
        seed_sequence(0, [1, 2])
    with pytest.raises(ConfigError, match="seed must be an integer"):
        seed_sequence(1.0)


def test_torch_generator_matches_derived_seed():
    g = torch_generator(3, "init")
    expected = torch.Generator().manual_seed(derive_seed(3, "init"))
    assert torch.equal(torch.randn(5, generator=g), torch.randn(5, generator=expected))


def test_docstring_examples_run():
    import doctest

    import lmech.seeding

    result = doctest.testmod(lmech.seeding)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("bad", [-1, 2**63, 2**64 - 1, 1.0, True, "3"])
def test_check_seed_refuses_out_of_range(bad):
    from lmech.seeding import check_seed

    with pytest.raises(ConfigError, match=r"\[0, 2\^63 - 1\]"):
        check_seed(bad)
