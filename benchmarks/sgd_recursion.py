r"""Side-by-side timing: the exact SGD loss curve by recursion vs Monte-Carlo SGD.

Both estimate the expected loss curve L(t), t = 0..T, of online minibatch SGD on
x ~ N(0, diag(lambda)), lambda_k ∝ k^-1.5 (trace 1), d modes, teacher lambda_k w*_k^2 ∝
k^-2.5 (initial excess 0.5), sigma^2 = 0.05, constant eta tr Sigma = 0.5:

* lmech: :func:`lmech.theory.sgd.online_moments`, the exact recursion (float64
  round-off, O(T d));
* Monte Carlo, as a user would write it: R independent SGD runs in numpy, vectorized
  over runs, recording 0.5 (Delta^T Sigma Delta + sigma^2); and lmech's own vectorized
  torch engine :func:`lmech.experiment.sgd.online_sgd`.

"Same accuracy": the Monte-Carlo estimate is given the runs R that bring the standard
error of its mean down to ``--rel-se`` (default 1%) of the excess risk L - sigma^2/2 at
the last step: R is set from a pilot of 200 runs, R = 200 (se_200 / (rel_se E))^2, then the timed run uses R runs (its
achieved relative s.e. is printed). The recursion's own error is ~1e-15. The printed
ratio is wall-time(MC) / wall-time(recursion).

``--plrf``: the PLRF loss curve (v = 4d, alpha = 1, beta = 0.9, eta sum D = 0.25,
T = 10^4 steps) from the deterministic equivalent
(:func:`lmech.theory.sgd.plrf_deterministic_equivalent` + :func:`~lmech.theory.sgd.spectral_loss`)
against what a user would otherwise do: draw W, form W^T D W, eigendecompose and run
the exact recursion, averaged over R draws, R set from a pilot of 20 draws so that the
s.e. of the draw mean at the last step is ``--rel-se`` of the loss. The ratio is
wall-time(draws) / wall-time(DE); the DE's own deviation from the draw mean is printed.
``--spectral``: the closed-form constant-eta path of ``spectral_loss`` against its step
loop (n = 400 nodes, T = 10^5, 60 logged steps).

Run (repository root)::

    OMP_NUM_THREADS=1 python benchmarks/sgd_recursion.py            # ~2-3 min
    OMP_NUM_THREADS=1 python benchmarks/sgd_recursion.py --quick    # ~20 s
    OMP_NUM_THREADS=1 python benchmarks/sgd_recursion.py --plrf     # ~3-10 min
    OMP_NUM_THREADS=1 python benchmarks/sgd_recursion.py --spectral # ~10 s

Warning: timers run one after the other on a shared machine; the CPU-seconds other
processes used meanwhile are printed beside each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import timed  # noqa: E402

from lmech.experiment.sgd import online_sgd  # noqa: E402
from lmech.theory import sgd as th  # noqa: E402


def problem(d):
    lam = th.power_law_spectrum(d, 1.5)
    c0 = th.power_law_target(d, 1.5, 2.5)
    return lam, c0 * 0.5 / (0.5 * float(lam @ c0))


def numpy_mc(lam, w, s2, eta, B, runs, seed=0):
    g = np.random.default_rng(seed)
    delta = np.tile(-w, (runs, 1))
    out = np.empty((eta.size + 1, runs))
    out[0] = 0.5 * ((delta**2) @ lam + s2)
    sq = np.sqrt(lam)
    for t in range(eta.size):
        x = g.standard_normal((runs, B, lam.size)) * sq
        r = np.einsum("rbd,rd->rb", x, delta) - g.standard_normal((runs, B)) * np.sqrt(s2)
        delta -= eta[t] * np.einsum("rb,rbd->rd", r, x) / B
        out[t + 1] = 0.5 * ((delta**2) @ lam + s2)
    return out.mean(1), out[-1].std() / np.sqrt(runs)


def _torch_mc(lam, w, s2, eta, B, R, T):
    return online_sgd(lam, w, s2, eta, B, runs=R, seed=0, log_steps=[T])


def wall(fn, *args):
    t0 = time.perf_counter()
    out, other = timed(fn, *args)
    return out, time.perf_counter() - t0, other


def plrf_draws(v, d, eta, T, steps, R, seed=0):
    """Mean exact PLRF loss over R draws of W, numpy, as a user would write it."""
    g = np.random.default_rng(seed)
    D, b = th.plrf_spectrum(v, 1.0), th.plrf_target(v, 0.9)
    out = []
    for _ in range(R):
        red = th.plrf_reduction(g.standard_normal((v, d)) / np.sqrt(d), D, b)
        out.append(
            th.online_loss(red["lam"], red["c0"], red["noise_variance"], np.full(T, eta))[steps]
        )
    out = np.array(out)
    return out.mean(0), out.std(0, ddof=1) / np.sqrt(R)


def plrf_de(v, d, eta, T, steps):
    de = th.plrf_deterministic_equivalent(th.plrf_spectrum(v, 1.0), th.plrf_target(v, 0.9), d)
    return th.spectral_loss(
        de["nodes"], de["counts"], de["forcing"], de["noise_variance"], np.full(T, eta),
        log_steps=steps,
    )  # fmt: skip


def plrf_main(rel_se):
    T = 10000
    steps = np.array([10, 100, 1000, T])
    print(f"PLRF: DE vs mean of feature draws with s.e. {rel_se:.1%} of the loss at T = {T}")
    print(
        f"{'d':>5} {'R':>5} {'DE s':>8} {'draws s':>8} {'draws/DE':>9} {'DE/mean - 1 at t=10..T'}"
    )
    for d in (64, 256):
        v = 4 * d
        eta = 0.25 / th.plrf_spectrum(v, 1.0).sum()
        L, t_de, o1 = wall(plrf_de, v, d, eta, T, steps)
        _, se0 = plrf_draws(v, d, eta, T, steps, 20, seed=1)
        R = max(2, int(np.ceil(20 * (se0[-1] / (rel_se * L[-1])) ** 2)))
        (m, se), t_dr, o2 = wall(plrf_draws, v, d, eta, T, steps, R)
        dev = " ".join(f"{x:+.3f}" for x in L / m - 1)
        print(
            f"{d:>5} {R:>5} {t_de:8.2f} {t_dr:8.2f} {t_dr / t_de:9.1f}  {dev}"
            f"  (other CPU-s {o1:.1f}/{o2:.1f})"
        )


def spectral_main():
    """Closed form vs step loop of spectral_loss at constant eta, 60 logged steps."""
    d, v = 128, 512
    de = th.plrf_deterministic_equivalent(
        th.plrf_spectrum(v, 1.0), th.plrf_target(v, 0.9), d, points=400
    )
    eta, T = 0.25 / th.plrf_spectrum(v, 1.0).sum(), 100000
    steps = np.unique(np.round(np.geomspace(1, T, 60)).astype(np.int64))
    args = (de["nodes"], de["counts"], de["forcing"], de["noise_variance"])
    fast, t_c, _ = wall(lambda lr: th.spectral_loss(*args, lr, 1, log_steps=steps), np.full(T, eta))
    # the step loop runs when the schedule is not constant: change the last step by one ulp
    sched = np.full(T, eta)
    sched[-1] = np.nextafter(eta, 0)
    slow, t_l, _ = wall(lambda lr: th.spectral_loss(*args, lr, 1, log_steps=steps), sched)
    print(
        f"spectral_loss, n = 400 nodes, T = {T}, 60 logged steps: closed form {t_c:.2f} s, "
        f"step loop {t_l:.2f} s, ratio {t_l / t_c:.1f}x, max rel diff "
        f"{np.max(np.abs(fast / slow - 1)):.1e}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--plrf", action="store_true")
    ap.add_argument("--spectral", action="store_true")
    ap.add_argument("--rel-se", type=float, default=0.01)
    args = ap.parse_args(argv)
    if args.plrf:
        return plrf_main(args.rel_se)
    if args.spectral:
        return spectral_main()
    cases = [(50, 300, 1)] if args.quick else [(50, 500, 1), (50, 500, 8), (200, 500, 4)]
    s2 = 0.05
    print(f"target s.e. of the MC mean at the last step: {args.rel_se:.2%} of the excess risk")
    print(
        f"{'d':>5} {'T':>5} {'B':>3} {'R':>6} {'rec s':>8} {'numpy s':>8} {'torch s':>8} "
        f"{'numpy/rec':>10} {'torch/rec':>10} {'|z|':>7}"
    )
    for d, T, B in cases:
        lam, c0 = problem(d)
        w = np.sqrt(c0)
        eta = np.full(T, 0.5 / lam.sum())
        cur, t_rec, o1 = wall(th.online_moments, lam, c0, s2, eta, B)
        _, se0 = numpy_mc(lam, w, s2, eta, B, 200, seed=1)
        L = cur.loss[-1]
        E = L - 0.5 * s2
        R = max(2, int(np.ceil(200 * (se0 / (args.rel_se * E)) ** 2)))
        (mean_np, se_np), t_np, o2 = wall(numpy_mc, lam, w, s2, eta, B, R)
        mc, t_t, o3 = wall(_torch_mc, lam, w, s2, eta, B, R, T)
        z = abs(mc["loss"][0, 0] - L) / mc["loss_se"][0, 0]
        print(
            f"{d:>5} {T:>5} {B:>3} {R:>6} {t_rec:8.3f} {t_np:8.2f} {t_t:8.2f} "
            f"{t_np / t_rec:10.0f} {t_t / t_rec:10.0f} {z:7.2f}   "
            f"(achieved s.e. {se_np / E:.2%} of the excess; other CPU-s {o1:.1f}/{o2:.1f}/{o3:.1f})"
        )


if __name__ == "__main__":
    main()
