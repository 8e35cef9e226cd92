"""Bad input to lmech.theory.cogs: clear lmech.errors, never a crash or a silent NaN."""

import numpy as np
import pytest

from lmech.errors import InputError
from lmech.theory import cogs as C


@pytest.mark.parametrize("d", [4, 10, 2])
def test_even_modulus_is_refused_where_the_theory_needs_odd(d):
    for build in (C.order6_solution, C.memorization_solution,
                  lambda d: C.order46_solution(d, [True] * max(1, (d - 1) // 2)),
                  lambda d: C.predicted_width("order6", d),
                  lambda d: C.block_net(d, 1, *C.syn_block())):  # fmt: skip
        with pytest.raises(InputError, match="odd"):
            build(d)


@pytest.mark.parametrize("q", [0, -3, 1.5, True])
def test_width_below_one_or_not_int_is_refused(q):
    with pytest.raises(InputError, match="width q"):
        C.random_net(7, q, np.random.default_rng(0))


@pytest.mark.parametrize("d", [1, 0, -5, 3.0, "7"])
def test_bad_modulus_is_refused(d):
    with pytest.raises(InputError, match="modulus"):
        C.CoGSNet.zero(d)


def test_mismatched_shapes_are_refused():
    with pytest.raises(InputError, match="share the shape"):
        C.CoGSNet(np.zeros((2, 5)), np.zeros((3, 5)), np.zeros((2, 5)))
    with pytest.raises(InputError, match=r"\(q, d\)"):
        C.CoGSNet(np.zeros(5), np.zeros(5), np.zeros(5))
    with pytest.raises(InputError, match="share the shape"):
        C.CoGSNet.from_fourier(np.zeros((2, 5)), np.zeros((2, 7)), np.zeros((2, 5)))
    with pytest.raises(InputError, match="equal-length"):
        C.block_constraints([1, 2], [1], [1, 2])


def test_combining_networks_of_different_moduli_is_refused():
    z5, z7 = C.CoGSNet.one(5), C.CoGSNet.one(7)
    with pytest.raises(InputError, match="same modulus"):
        z5 + z7
    with pytest.raises(InputError, match="same modulus"):
        z5 * z7
    with pytest.raises(InputError, match="CoGSNet"):
        z5 * 3


def test_nan_weights_and_bad_parameters_are_refused():
    w = np.ones((1, 5))
    w[0, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        C.CoGSNet(w, np.ones((1, 5)), np.ones((1, 5)))
    with pytest.raises(InputError, match="'a' or 'b'"):
        C.sum_potentials_square(C.CoGSNet.one(5), "c")
    with pytest.raises(InputError, match="nonzero"):
        C.nu_block(0)
    with pytest.raises(InputError, match="frequency k"):
        C.block_net(7, 4, *C.syn_block())
    with pytest.raises(InputError, match="one order-4 flag"):
        C.order46_solution(7, [True])
    with pytest.raises(InputError, match="one nu"):
        C.order6_solution(7, [1.0])
    with pytest.raises(InputError, match="construction"):
        C.predicted_width("order5", 7)


def test_huge_memorization_is_refused_before_allocating():
    with pytest.raises(InputError, match="memory"):
        C.memorization_solution(401)


def test_bad_mixture_and_variant_parameters_are_refused():
    with pytest.raises(InputError, match="order 6"):
        C.order46_solution(7, [True, True, True])  # no order-6 block to carry R_n
    with pytest.raises(InputError, match="cancel"):
        C.order46_solution(7, [True, False, False], cancel="none")
    with pytest.raises(InputError, match="n_order4"):
        C.predicted_width("order46", 7, 3)  # all three order 4: no carrier
    with pytest.raises(InputError, match="unit"):
        C.syn_ab_block(2.0, 1.0)
    with pytest.raises(InputError, match="unit"):
        C.syn_ab_block(1.0, np.nan)
    with pytest.raises(InputError, match=r"\(3, 3\)"):
        C.classify_order3(np.ones((3, 2)))


@pytest.mark.parametrize("bad", [{"adam_eps": 0.0}, {"adam_eps": -1e-8}, {"adam_eps": 1.0},
                                 {"project_output": 1}])  # fmt: skip
def test_factorization_spec_refuses_bad_eps_and_non_bool_projection(bad):
    from lmech.errors import ConfigError
    from lmech.laws.grokking import cogs as law

    with pytest.raises(ConfigError, match="adam_eps|project_output"):
        law.FacSpec(**bad)
