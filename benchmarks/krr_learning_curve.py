r"""Side-by-side timing: one KRR learning curve by lmech and by scikit-learn's KernelRidge.

Both compute the test mean squared error of kernel ridge regression with the RBF kernel

.. math::

    k(x, x') = \exp(-\gamma \|x - x'\|^2), \qquad
    \hat f_{n,\delta}(x) = k(x, X_{:n}) (K_{:n,:n} + \delta I)^{-1} y_{:n}

on the grid sizes x ridges x trials, from the same training prefixes X_{:n} and test sets:

* lmech: :func:`lmech.experiment.krr.krr_learning_curve` with :class:`lmech.kernels.base.RBF`,
  float64 on the CPU (one Gram matrix per trial, one orthogonal reduction to band form
  K = Q B Q^T per (n, trial) serving every ridge through banded Cholesky solves);
* scikit-learn: ``KernelRidge(kernel="rbf", gamma=RBF.gamma, alpha=delta)`` fitted and
  evaluated once per (n, ridge, trial), as a user would write it: ``fit``, ``predict``,
  ``mean_squared_error`` (each fit builds its own Gram matrix and Cholesky solve).

Data (synthetic, because the "digits-like" real set, scikit-learn's digits, has only 1797
images, too few for n = 4000): inputs x ~ N(0, diag(lambda)) in d = 64 dimensions with a
power-law spectrum lambda_i = i^{-1} / sum_j j^{-1} (so E||x||^2 = 1); standardized
coordinates z_i = x_i / sqrt(lambda_i); target

    f(x) = sin(z_1) + 0.5 z_2 z_3 + 0.25 cos(z_4 + z_5),

training labels y = f(x) + 0.1 * N(0, 1), test targets the clean f(x_test). RBF bandwidth
sigma = 1 (gamma = 1/2). Trial t draws from ``numpy.random.default_rng([seed, t])``; all
trials are drawn before either timer starts, and both methods read the same arrays.

Run (from the repository root, venv active)::

    python benchmarks/krr_learning_curve.py            # default grid, several minutes
    python benchmarks/krr_learning_curve.py --quick    # smoke run, ~20 s
    python benchmarks/krr_learning_curve.py --json /tmp/krr_bench.json

Exit status 1 if the two methods' test MSEs differ by more than ``RTOL`` (relative) anywhere
on the grid; the speed ratio against the 10x target is reported, never enforced.
Measured numbers are in benchmarks/README.md.

Warning:
    numpy's and scipy's wheels each bundle their own OpenBLAS, each with its own thread
    pool whose idle threads busy-wait. A KernelRidge fit alternates between the two
    (pairwise distances and predictions in numpy, the Cholesky solve in scipy), so with
    --threads equal to the core count four spinning threads fight over the cores; on the
    2-core machine of benchmarks/README.md that made each fit at n = 143..700 up to 8x
    slower, inflating the ratio in lmech's favour. The script therefore sets
    ``OPENBLAS_THREAD_TIMEOUT=4`` (idle threads sleep almost at once; measured harmless
    for the n = 4000 eigh and Cholesky); ``--openblas-timeout 0`` reproduces the raw
    wheel behaviour.

Warning:
    Both timers run in one process, one after the other, on a shared machine: other load
    inflates either. The CPU-seconds other processes used during each timer (from
    /proc/stat) and the load average are printed, with a WARNING above 5% of the cores
    (and 0.5 CPU-s).
"""

from __future__ import annotations

import argparse
import os
import sys


def _early_threads(argv: list[str]) -> argparse.Namespace:
    # --threads and --openblas-timeout must reach the BLAS pools before numpy, scipy and
    # torch load them
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--openblas-timeout", type=int, default=4)
    return parser.parse_known_args(argv)[0]


if __name__ == "__main__":
    _early = _early_threads(sys.argv[1:])
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = str(max(1, _early.threads))
    if _early.openblas_timeout > 0:
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(_early.openblas_timeout))

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402
from _timing import timed  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.kernel_ridge import KernelRidge  # noqa: E402
from sklearn.metrics import mean_squared_error  # noqa: E402

from lmech.experiment.krr import TrialData, krr_learning_curve  # noqa: E402
from lmech.kernels.base import RBF  # noqa: E402

RTOL = 1e-6  # max relative difference of test MSE between the two methods
SPEED_TARGET = 10.0  # the target for sklearn_time / lmech_time
MIN_N = 50  # smallest training size of the log-spaced grid
RIDGE_RANGE = (1e-4, 1e1)  # explicit ridges delta, log-spaced


@dataclass(frozen=True)
class Setting:
    """One benchmark grid; ``DEFAULT`` and ``QUICK`` are the two presets."""

    max_n: int  # largest training size
    sizes: int  # number of log-spaced sizes from MIN_N to max_n
    ridges: int  # number of log-spaced ridges over RIDGE_RANGE
    trials: int  # independent draws (training prefix + test set)
    test: int  # test-set size m


DEFAULT = Setting(max_n=4000, sizes=10, ridges=20, trials=5, test=1000)
QUICK = Setting(max_n=2000, sizes=8, ridges=20, trials=2, test=1000)


@dataclass(frozen=True)
class PowerLawData:
    """Gaussian inputs with covariance diag(i^{-exponent}) (trace 1) and a smooth target."""

    dim: int = 64
    exponent: float = 1.0
    noise: float = 0.1
    seed: int = 0

    def spectrum(self) -> np.ndarray:
        lam = np.arange(1, self.dim + 1, dtype=np.float64) ** -self.exponent
        return lam / lam.sum()  # (d,) lambda_i, sum = 1

    def target(self, X: np.ndarray) -> np.ndarray:
        z = X / np.sqrt(self.spectrum())  # (n, d) standardized coordinates
        return np.sin(z[:, 0]) + 0.5 * z[:, 1] * z[:, 2] + 0.25 * np.cos(z[:, 3] + z[:, 4])

    def draw(self, trial: int, n: int, m: int) -> TrialData:
        rng = np.random.default_rng([self.seed, trial])
        scale = np.sqrt(self.spectrum())
        X = rng.standard_normal((n, self.dim)) * scale  # (n, d)
        y = self.target(X) + self.noise * rng.standard_normal(n)  # (n,) noisy labels
        X_test = rng.standard_normal((m, self.dim)) * scale  # (m, d)
        return TrialData(
            torch.from_numpy(X),
            torch.from_numpy(y),
            torch.from_numpy(X_test),
            torch.from_numpy(self.target(X_test)),  # clean test targets
        )


def grid(setting: Setting) -> tuple[np.ndarray, np.ndarray]:
    """Training sizes (log-spaced integers MIN_N..max_n) and ridges (log-spaced)."""
    start = min(MIN_N, setting.max_n)
    sizes = np.unique(np.round(np.geomspace(start, setting.max_n, setting.sizes)).astype(int))
    ridges = np.geomspace(*RIDGE_RANGE, setting.ridges)
    return sizes, ridges


def run_lmech(kernel, draws, sizes, ridges) -> tuple[np.ndarray, np.ndarray, float]:
    """Test MSE (trials, sizes, ridges), seconds per size (summed over trials), total seconds.

    The seconds for the smallest size include each trial's Gram matrices, which the engine
    builds once per trial for all sizes.
    """
    trials = len(draws)
    stamps: list[float] = []  # perf_counter at each trial start and after each (n, trial)

    def sample(trial: int, n_max: int) -> TrialData:
        stamps.append(time.perf_counter())
        return draws[trial]

    start = time.perf_counter()
    table = krr_learning_curve(
        kernel,
        sample,
        sizes.tolist(),
        ridges.tolist(),
        trials,
        device="cpu",
        dtype=torch.float64,
        progress=lambda _: stamps.append(time.perf_counter()),
    )
    total = time.perf_counter() - start
    # stamps: per trial [start, after size 1, ..., after size S]
    per_size = np.diff(np.reshape(stamps, (trials, sizes.size + 1)), axis=1).sum(0)
    table = table.sort_values(["trial", "n", "ridge"])
    shape = (trials, sizes.size, ridges.size)
    assert np.array_equal(table["n"].to_numpy().reshape(shape)[0, :, 0], sizes)
    assert np.array_equal(table["ridge"].to_numpy().reshape(shape)[0, 0], ridges)
    return table["test_mse"].to_numpy().reshape(shape), per_size, total


def run_sklearn(gamma, draws, sizes, ridges) -> tuple[np.ndarray, np.ndarray, float]:
    """Same outputs as :func:`run_lmech`, one KernelRidge fit per (trial, n, ridge)."""
    mse = np.empty((len(draws), sizes.size, ridges.size))
    per_size = np.zeros(sizes.size)
    start = time.perf_counter()
    for t, data in enumerate(draws):
        X, y = data.X_train.numpy(), data.y_train.numpy()
        X_test, y_test = data.X_test.numpy(), data.y_test.numpy()
        for i, n in enumerate(sizes):
            tic = time.perf_counter()
            for r, ridge in enumerate(ridges):
                model = KernelRidge(alpha=ridge, kernel="rbf", gamma=gamma).fit(X[:n], y[:n])
                mse[t, i, r] = mean_squared_error(y_test, model.predict(X_test))
            per_size[i] += time.perf_counter() - tic
    return mse, per_size, time.perf_counter() - start


def environment(threads: int) -> dict:
    blas = [
        f"{p['internal_api']}({p['user_api']}) threads={p['num_threads']}"
        for p in threadpoolctl.threadpool_info()
    ]
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "cpu": platform.processor() or platform.machine(),
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT", "default"),
        "thread_pools": blas,
        "loadavg_before": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, help_ in [
        ("max-n", "largest training size"),
        ("sizes", "number of log-spaced training sizes"),
        ("ridges", f"number of log-spaced ridges in [{RIDGE_RANGE[0]:g}, {RIDGE_RANGE[1]:g}]"),
        ("trials", "number of trials (independent draws)"),
        ("test", "test-set size"),
    ]:
        key = name.replace("-", "_")
        help_ += f" (default {getattr(DEFAULT, key)}, --quick {getattr(QUICK, key)})"
        parser.add_argument(f"--{name}", type=int, default=None, help=help_)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/torch threads (default 2)")
    parser.add_argument(
        "--openblas-timeout",
        type=int,
        default=4,
        help="OPENBLAS_THREAD_TIMEOUT (how long idle OpenBLAS threads spin) unless already "
        "set; 0 keeps OpenBLAS's default (default 4; see the module docstring)",
    )
    parser.add_argument("--quick", action="store_true", help="small grid, ~20 s smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else DEFAULT
    setting = Setting(
        **{k: v if (v := getattr(args, k)) is not None else w for k, w in asdict(preset).items()}
    )
    if min(asdict(setting).values()) < 1 or args.threads < 1:
        parser.error(f"sizes, counts and --threads must be >= 1; got {setting}")
    torch.set_num_threads(args.threads)

    data = PowerLawData()
    kernel = RBF(bandwidth=1.0)
    sizes, ridges = grid(setting)
    env = environment(args.threads)
    print(f"KRR learning curve: lmech krr_learning_curve vs sklearn KernelRidge  {setting}")
    print(f"  data: x ~ N(0, diag(i^-1)/H_64), d={data.dim}, noise={data.noise}, seed={data.seed}")
    print(f"  kernel: RBF bandwidth={kernel.bandwidth} (gamma={kernel.gamma}), float64, CPU")
    print(f"  sizes: {sizes.tolist()}")
    print(f"  ridges: {ridges.size} in [{ridges[0]:g}, {ridges[-1]:g}]; trials: {setting.trials}")
    print("  env: " + ", ".join(f"{k}={v}" for k, v in env.items() if k != "thread_pools"))
    for pool in env["thread_pools"]:
        print(f"  pool: {pool}")

    draws = [data.draw(t, int(sizes.max()), setting.test) for t in range(setting.trials)]
    # warm-up both paths on a tiny problem: lazy imports and first-call costs stay out
    tiny = [data.draw(10**6, MIN_N, 10)]
    run_lmech(kernel, tiny, np.array([MIN_N]), ridges[:2])
    run_sklearn(kernel.gamma, tiny, np.array([MIN_N]), ridges[:2])

    print("\nrunning lmech ...", flush=True)
    (mse_lm, size_lm, time_lm), other_lm = timed(run_lmech, kernel, draws, sizes, ridges)
    print("running sklearn ...", flush=True)
    (mse_sk, size_sk, time_sk), other_sk = timed(run_sklearn, kernel.gamma, draws, sizes, ridges)
    env["loadavg_after"] = os.getloadavg()[0]

    rel = np.abs(mse_lm - mse_sk) / np.abs(mse_sk)  # (trials, sizes, ridges)
    max_rel = float(rel.max())
    ratio = time_sk / time_lm
    agree = max_rel <= RTOL
    print(f"\nper size, seconds summed over {setting.trials} trials x {ridges.size} ridges")
    print(f"{'n':>6} {'lmech':>9} {'sklearn':>9} {'ratio':>7} {'max rel diff':>13}")
    for i, n in enumerate(sizes):
        note = "  (+ Gram matrices of all sizes)" if i == 0 else ""
        print(
            f"{n:>6} {size_lm[i]:>9.3f} {size_sk[i]:>9.3f} {size_sk[i] / size_lm[i]:>7.2f}"
            f" {rel[:, i].max():>13.2e}{note}"
        )
    print(f"{'total':>6} {time_lm:>9.3f} {time_sk:>9.3f} {ratio:>7.2f} {max_rel:>13.2e}")
    print(f"\nlmech   {time_lm:8.2f} s   ({sizes.size * setting.trials} factorizations)")
    print(f"sklearn {time_sk:8.2f} s   ({mse_sk.size} KernelRidge fits)")
    print(f"ratio sklearn/lmech = {ratio:.2f}x")
    print(f"agreement: max rel diff of test MSE = {max_rel:.2e} (tol {RTOL:g}): ", end="")
    print("PASS" if agree else "FAIL")
    met = "MET" if ratio >= SPEED_TARGET else "NOT MET"
    print(f"speed target >= {SPEED_TARGET:g}x: {met} ({ratio:.2f}x)")
    print(
        f"load average 1 min: before {env['loadavg_before']:.2f}, after {env['loadavg_after']:.2f}"
    )
    cores = env["cpu_affinity"]
    for name, wall, other in [("lmech", time_lm, other_lm), ("sklearn", time_sk, other_sk)]:
        share = other / (wall * cores)
        flag = (
            "  WARNING: machine was not quiet, this timing is inflated"
            if share > 0.05 and other > 0.5
            else ""
        )
        print(
            f"other processes during {name}: {other:.1f} CPU-s of {wall * cores:.1f}"
            f" ({100 * share:.0f}%){flag}"
        )

    if args.json:
        result = {
            "setting": asdict(setting),
            "data": asdict(data),
            "bandwidth": kernel.bandwidth,
            "environment": env,
            "sizes": sizes.tolist(),
            "ridges": ridges.tolist(),
            "lmech_seconds": time_lm,
            "sklearn_seconds": time_sk,
            "ratio": ratio,
            "other_cpu_seconds_during_lmech": other_lm,
            "other_cpu_seconds_during_sklearn": other_sk,
            "lmech_seconds_per_size": size_lm.tolist(),
            "sklearn_seconds_per_size": size_sk.tolist(),
            "max_rel_diff": max_rel,
            "agreement_pass": agree,
            "speed_target_met": ratio >= SPEED_TARGET,
            "test_mse_lmech": mse_lm.tolist(),  # [trial][size][ridge]
            "test_mse_sklearn": mse_sk.tolist(),
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
        print(f"wrote {args.json}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
