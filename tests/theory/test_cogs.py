"""lmech.theory.cogs against brute force: explicit loops, direct evaluation on all d^2 pairs."""

import numpy as np
import pytest

from lmech.errors import InputError
from lmech.theory import cogs as C

TOL = 1e-10


def _rel(x, y):
    return float(
        np.abs(np.asarray(x) - np.asarray(y)).max() / max(1.0, np.abs(np.asarray(y)).max())
    )


def _complex_net(d, q, rng):
    return C.CoGSNet(
        *(rng.standard_normal((q, d)) + 1j * rng.standard_normal((q, d)) for _ in range(3))
    )


def _loop_outputs(net):
    d, q = net.d, net.width
    o = np.zeros((d, d, d), dtype=complex)
    for x in range(d):
        for y in range(d):
            for c in range(d):
                o[x, y, c] = sum(net.w[j, c] * (net.ua[j, x] + net.ub[j, y]) ** 2 for j in range(q))
    return o


def _loop_loss(net):
    d = net.d
    o = _loop_outputs(net)
    total = 0.0
    for x in range(d):
        for y in range(d):
            po = o[x, y] - o[x, y].mean()
            t = -np.ones(d) / d
            t[(x + y) % d] += 1
            total += np.sum(np.abs(po - t) ** 2)
    return total / d**2


def _loop_fourier(net):
    d = net.d
    om = np.exp(2j * np.pi / d)
    g = np.arange(d)
    za = np.array(
        [[np.sum(net.ua[j] * om ** (-k * g)) / d for k in range(d)] for j in range(net.width)]
    )
    zb = np.array(
        [[np.sum(net.ub[j] * om ** (-k * g)) / d for k in range(d)] for j in range(net.width)]
    )
    zc = np.array(
        [[np.sum(net.w[j] * om ** (k * g)) / d for k in range(d)] for j in range(net.width)]
    )
    return za, zb, zc


@pytest.mark.parametrize("d", [3, 4, 5])
def test_outputs_and_loss_match_explicit_loops(d):
    net = C.random_net(d, 3, np.random.default_rng(d))
    assert _rel(net.outputs(), _loop_outputs(net)) < 1e-13
    assert C.direct_loss(net) == pytest.approx(_loop_loss(net), rel=1e-12)


def test_fourier_coefficients_and_sum_potentials_match_explicit_sums():
    net = C.random_net(5, 4, np.random.default_rng(1))
    for mine, loop in zip(net.fourier(), _loop_fourier(net), strict=True):
        assert _rel(mine, loop) < 1e-13
    za, zb, zc = _loop_fourier(net)
    r = C.sum_potentials(net)
    ra = C.sum_potentials_square(net, "b")
    for k1, k2, k in [(1, 2, 3), (0, 4, 1), (2, 2, 2), (3, 0, 4)]:
        assert r[k1, k2, k] == pytest.approx(np.sum(za[:, k1] * zb[:, k2] * zc[:, k]), abs=1e-13)
        assert ra[k1, k2, k] == pytest.approx(np.sum(zb[:, k1] * zb[:, k2] * zc[:, k]), abs=1e-13)


@pytest.mark.parametrize("d", [5, 6, 7, 9])
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_fourier_loss_equals_direct_loss(d, kind):
    rng = np.random.default_rng(10 * d)
    net = C.random_net(d, 5, rng) if kind == "real" else _complex_net(d, 5, rng)
    assert abs(C.fourier_loss(net) - C.direct_loss(net)) <= TOL * max(1.0, C.direct_loss(net))
    # the algebra's O(k1, k2, k) is the DFT of the brute-force outputs
    assert _rel(C.output_fourier(net), C.output_fourier_direct(net)) < 1e-12


def test_zero_net_loss_is_that_of_the_zero_predictor():
    for d in (3, 8, 11):
        assert C.direct_loss(C.CoGSNet.zero(d)) == pytest.approx(1 - 1 / d, rel=1e-14)
        assert C.fourier_loss(C.CoGSNet.zero(d)) == pytest.approx(1 - 1 / d, rel=1e-14)


@pytest.mark.parametrize("d", [5, 7, 8])
def test_sum_potentials_are_ring_homomorphisms(d):
    rng = np.random.default_rng(d)
    z1, z2 = C.random_net(d, 3, rng), _complex_net(d, 4, rng)
    for r in (C.sum_potentials, lambda z: C.sum_potentials_square(z, "a"),
              lambda z: C.sum_potentials_square(z, "b")):  # fmt: skip
        assert _rel(r(z1 + z2), r(z1) + r(z2)) < TOL
        assert _rel(r(z1 * z2), r(z1) * r(z2)) < TOL
        assert _rel(r(z1 * C.CoGSNet.one(d)), r(z1)) < TOL
        assert _rel(r(z1 + C.CoGSNet.zero(d)), r(z1)) < TOL
        assert _rel(r(C.CoGSNet.one(d)), np.ones((d, d, d))) < TOL
    assert (z1 * z2).width == 12 and (z1 + z2).width == 7


def test_product_is_circular_convolution_over_d_in_weight_space():
    d, rng = 7, np.random.default_rng(3)
    z1, z2 = C.random_net(d, 2, rng), C.random_net(d, 3, rng)
    p = z1 * z2
    assert p.is_real()
    for j1 in range(2):
        for j2 in range(3):
            j = 3 * j1 + j2
            for g in range(d):
                conv = sum(z1.ua[j1, h] * z2.ua[j2, (g - h) % d] for h in range(d)) / d
                assert p.ua[j, g] == pytest.approx(conv, abs=1e-12)
                conv_w = sum(z1.w[j1, h] * z2.w[j2, (g - h) % d] for h in range(d)) / d
                assert p.w[j, g] == pytest.approx(conv_w, abs=1e-12)


@pytest.mark.parametrize("d", [3, 5, 7, 9, 11, 15, 23])
def test_order6_solution_reaches_zero_loss_with_width_3_d_minus_1(d):
    rng = np.random.default_rng(d)
    nf = (d - 1) // 2
    net = C.order6_solution(d, nus=rng.standard_normal(nf) + 1j * rng.standard_normal(nf))
    assert net.width == 6 * nf == C.predicted_width("order6", d)
    assert net.is_real()
    assert C.direct_loss(net) <= 1e-12


@pytest.mark.parametrize("d", [5, 7, 9, 11, 23])
def test_order46_mixture_reaches_zero_loss(d):
    rng = np.random.default_rng(d)
    nf = (d - 1) // 2
    flags = [k % 2 == 0 for k in range(nf)]
    n4 = sum(flags)
    params = [np.exp(2j * np.pi * rng.random()) if f else (0.5 + rng.random()) * np.exp(2j * np.pi * rng.random())
              for f in flags]  # fmt: skip
    net = C.order46_solution(d, flags, params=params)
    assert net.width == C.predicted_width("order46", d, n4) == 4 * n4 + 6 * (nf - n4)
    assert net.is_real()
    # brute force on all d^2 pairs, and the Fourier-term loss
    assert C.direct_loss(net) <= 1e-12 and C.fourier_loss(net) <= 1e-12
    assert C.frequency_orders(net) == {k + 1: 4 if f else 6 for k, f in enumerate(flags)}
    alt = C.order46_solution(d, flags, params=params, cancel="constant_node")
    assert (
        alt.width
        == 4 * n4 + 6 * (nf - n4) + 1
        == C.predicted_width("order46", d, n4, cancel="constant_node")
    )
    assert C.direct_loss(alt) <= 1e-12
    assert C.direct_loss(C.order46_solution(d, [False] * nf)) <= 1e-12  # all order 6
    assert C.order46_solution(d, [False] * nf).width == 6 * nf


def test_order46_mixture_without_the_carrier_keeps_the_rn_loss():
    # the order-6 carrier's extra output coefficients are what zero the loss: removing them
    # (the same blocks, no carrier) leaves 8 d |R_n|^2 per order-4 frequency (closed form)
    d, flags = 11, [True, False, True, False, True]
    net = C.order46_solution(d, flags)
    za, zb, zc = net.fourier()
    keep = np.zeros(d, bool)
    for j in range(net.width):  # drop every output coefficient off the node's own frequency
        k = int(np.argmax(np.abs(za[j, 1:])) + 1)
        keep[:] = False
        keep[[k, d - k]] = True
        zc[j, ~keep] = 0
    bare = C.CoGSNet.from_fourier(za, zb, zc).real_part()
    expected = 0.0
    for f in flags:
        if f:
            a, b, c = C._normalized(*C.order4_block(1.0), 1 / (2 * d))
            expected += 8 * d * abs(C.block_constraints(a, b, c)["R_n"]) ** 2
    assert C.direct_loss(bare) == pytest.approx(expected, rel=1e-9)


def test_rn_carrier_cancels_only_the_constant_output_term():
    a, b, c = C._normalized(*C.order6_block(0.8 * np.exp(0.6j)), 1 / 14)
    e = C.rn_carrier(a, b)
    ac, bc = np.conj(a), np.conj(b)
    for v in (a * b, ac * b, a * bc, ac * bc, a * a, b * b, ac * ac, bc * bc):
        assert abs(np.sum(v * e)) < 1e-12
    assert np.sum(2 * (np.abs(a) ** 2 + np.abs(b) ** 2) * e) == pytest.approx(1.0, abs=1e-12)
    # an order-4 block cannot carry it
    a4, b4, _ = C._normalized(*C.order4_block(np.exp(0.3j)), 1 / 14)
    with pytest.raises(InputError, match="cannot carry"):
        C.rn_carrier(a4, b4)


def test_mixture_with_every_frequency_order4_is_refused_and_needs_the_constant_node():
    with pytest.raises(InputError, match="order 6"):
        C.order46_solution(7, [True, True, True])
    net = C.order46_solution(7, [True, True, True], cancel="constant_node")
    assert net.width == 13 and C.direct_loss(net) <= 1e-12


@pytest.mark.parametrize("trial", range(3))
def test_order6_ab_variant_zeroes_every_constraint_and_reaches_zero_loss(trial):
    g = np.random.default_rng(trial)
    al, be = np.exp(2j * np.pi * g.random(2))
    cons = C.block_constraints(*C.order6_ab_block(al, be))
    assert abs(cons["abc"] - 6) < 1e-12
    assert all(abs(v) < 1e-12 for k, v in cons.items() if k != "abc")
    d = 9
    net = C.CoGSNet.zero(d)
    for k in range(1, 5):
        net = net + C.block_net(d, k, *C._normalized(*C.order6_ab_block(al, be), 1 / (2 * d)))
    assert net.width == 24 and C.direct_loss(net) <= 1e-12
    # z_nu * z_{syn,alpha beta} is NOT a solution unless alpha, beta = +-1: the abar abar c
    # sum of the order-3 factor is 1 + conj(alpha)^2 w^2 + conj(beta)^2 w (by hand)
    w = np.exp(2j * np.pi / 3)
    x = C.syn_ab_block(al, be)
    assert C.block_constraints(*x)["abar_abar_c"] == pytest.approx(
        1 + np.conj(al) ** 2 * w**2 + np.conj(be) ** 2 * w, abs=1e-12
    )
    nu = 0.7 * np.exp(0.5j)  # (a real or imaginary nu would zero abar abar c on its own)
    assert abs(C.block_constraints(*C.block_product(C.nu_block(nu), x))["abar_abar_c"]) > 1e-3


def test_order4_blocks_leave_only_the_rn_term_and_its_loss_is_8d_rn_squared():
    d, nf = 7, 3
    blk = C.order4_block(np.exp(0.7j))
    cons = C.block_constraints(*blk)
    assert abs(cons["abc"] - 4) < 1e-12
    assert all(abs(v) < 1e-12 for k, v in cons.items() if k not in ("abc", "R_n"))
    assert abs(cons["R_n"]) > 1  # 2 (1 + i) per sum |a|^2 c, twice
    # the order-4 blocks alone (no fix node): loss = sum_k 2d * 4 |R_n|^2, by direct evaluation
    net = C.CoGSNet.zero(d)
    expected = 0.0
    for k in range(1, nf + 1):
        a, b, c = C._normalized(*blk, 1 / (2 * d))
        net = net + C.block_net(d, k, a, b, c)
        expected += 8 * d * abs(C.block_constraints(a, b, c)["R_n"]) ** 2
    assert C.direct_loss(net) == pytest.approx(expected, rel=1e-10)


def test_order6_block_zeroes_every_constraint_but_abc():
    cons = C.block_constraints(*C.order6_block(0.3 + 1.1j))
    assert abs(cons["abc"] - 6) < 1e-12
    assert all(abs(v) < 1e-12 for k, v in cons.items() if k != "abc")


@pytest.mark.parametrize("d", [3, 5, 7, 9])
def test_memorization_solution_reaches_zero_loss_with_width_d2_times_half(d):
    net = C.memorization_solution(d)
    assert net.width == d * d * (d - 1) // 2 == C.predicted_width("memorization", d)
    assert C.direct_loss(net) <= 1e-12


def test_single_factors_are_partial_not_global_solutions():
    d = 7
    for blk in (C.syn_block(), C.nu_block(0.5), C.xi_block(1j)):
        net = C.CoGSNet.zero(d)
        for k in range(1, 4):
            net = net + C.block_net(d, k, *C._normalized(*blk, 1 / (2 * d)))
        assert C.direct_loss(net) > 1e-3


@pytest.mark.parametrize("trial", range(6))
def test_factorization_recovers_constructed_blocks_under_permutation_and_sign_flips(trial):
    g = np.random.default_rng(100 + trial)
    cases = [(C.order6_block((0.5 + g.random()) * np.exp(2j * np.pi * g.random())), "nu"),
             (C.order4_block(np.exp(2j * np.pi * g.random())), ("xi", "4c")),
             (C.block_product(C.nu_i_block(), C.syn_block()), "4c")]  # fmt: skip
    for blk, label in cases:
        a, b, c = C._normalized(*blk, 1 / 46)
        p = g.permutation(a.size)
        s = np.where(g.random(a.size) < 0.5, -1, 1)  # (a, b, c) -> (-a, -b, c): same network
        f = C.factorize_block(a[p] * s, b[p] * s, c[p])
        assert f.error < 1e-10 and f.factorable
        assert C.classify_order2(f.order2) in (label if isinstance(label, tuple) else (label,))


def test_random_blocks_do_not_factorize():
    g = np.random.default_rng(5)
    errs = [
        C.factorize_block(*(g.standard_normal((3, 6)) + 1j * g.standard_normal((3, 6)))).error
        for _ in range(20)
    ]
    assert np.median(errs) > 0.5


def test_frequency_orders_of_constructed_networks():
    d = 11
    flags = [True, False, True, False, False]
    net = C.order46_solution(d, flags)
    assert C.frequency_orders(net) == {
        k: 4 if f else 6 for k, f in zip(range(1, 6), flags, strict=True)
    }
    assert (C.node_frequencies(net) > 0).all()
    alt = C.order46_solution(d, flags, cancel="constant_node")
    assert (C.node_frequencies(alt)[:-1] > 0).all()  # the constant-input node sits at k = 0
    assert C.node_frequencies(alt)[-1] == 0


@pytest.mark.parametrize("trial", range(4))
def test_classify_factors_labels_every_constructed_type(trial):
    g = np.random.default_rng(200 + trial)
    nu = (0.5 + g.random()) * np.exp(2j * np.pi * g.random())
    al, be = np.exp(2j * np.pi * g.random(2))
    cases = [(C.order6_block(nu), ("nu", "syn")),
             (C.order6_ab_block(al, be), ("4c", "syn_ab")),
             (C.order4_block(np.exp(2j * np.pi * g.random()), sign=int(g.choice([-1, 1]))), ("4c", "xi"))]  # fmt: skip
    for blk, labels in cases:
        a, b, c = C._normalized(*blk, (0.5 + g.random()) / 46)
        p = g.permutation(a.size)
        s = np.where(g.random(a.size) < 0.5, -1, 1)
        f = C.factorize_block(a[p] * s, b[p] * s, c[p])
        assert f.error < 1e-10
        assert C.classify_factors(f) == labels


def test_classify_order3_against_hand_built_factors():
    w = np.exp(2j * np.pi / 3)
    syn = np.stack(C.syn_block())
    assert C.classify_order3(syn)[0] == "syn"
    assert C.classify_order3(np.conj(syn))[0] == "syn"  # conjugated: Im c2 < 0 is flipped
    flipped = syn.copy()
    flipped[:2, 1] *= -1  # the x^2 sign symmetry on one node
    assert C.classify_order3(flipped)[0] == "syn"
    assert C.classify_order3(syn * 2.5)[0] == "syn"  # the (abc)^{1/3} normalization
    al, be = np.exp(0.9j), np.exp(-0.4j)
    lab, a2, b2 = C.classify_order3(np.stack(C.syn_ab_block(al, be)))
    assert lab == "syn_ab"
    # alpha w, beta w^2 after the sign fix Re a <= 0 (alpha w has Re < 0 here)
    assert (al * w).real < 0 and a2 == pytest.approx(al, abs=1e-12)
    assert (be * w**2).real < 0 and b2 == pytest.approx(be, abs=1e-12)
    g = np.random.default_rng(3)
    rand = g.standard_normal((3, 3)) + 1j * g.standard_normal((3, 3))
    rand[:, 0] = 1
    assert C.classify_order3(rand)[0] == "other"
    with pytest.raises(InputError):
        C.classify_order3(np.ones((3, 2)))


def test_reconstruct_rebuilds_constructed_blocks_and_not_random_ones():
    g = np.random.default_rng(9)
    for blk in (C.order6_block(0.7 * np.exp(0.5j)), C.order4_block(np.exp(1.1j)),
                C.order6_ab_block(np.exp(0.2j), np.exp(2.9j))):  # fmt: skip
        a, b, c = C._normalized(*blk, 1 / 46)
        p, s = g.permutation(a.size), np.where(g.random(a.size) < 0.5, -1, 1)
        x = (a[p] * s, b[p] * s, c[p])
        f = C.factorize_block(*x)
        assert np.abs(f.reconstruct(*x) - np.stack(x)).max() < 1e-12
    z = g.standard_normal((3, 6)) + 1j * g.standard_normal((3, 6))
    f = C.factorize_block(*z)
    assert np.linalg.norm(f.reconstruct(*z) - z) > 0.1
