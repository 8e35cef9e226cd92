"""Vmapped ensemble training vs a Python loop over the same networks; lmech's coord check vs mup's.

    python benchmarks/ensemble.py                    # 64 MLPs, widths 64..1024, 200 steps, 5 repeats
    python benchmarks/ensemble.py --members 16 --steps 50 --repeats 2 --widths 64 --skip-mup   # smoke run
    python benchmarks/ensemble.py --mup-path DIR     # where `pip install --no-deps --target DIR mup` put mup

Part 1 trains E muP MLPs (16 -> 256 -> 256 -> 1, tanh, float32) for T minibatch SGD steps
(batch 32 of 1024 teacher-student points, one learning rate per member) twice: as one
:func:`lmech.experiment.ensemble.train` program, and as a Python loop over E ``torch.nn.Module``
copies, each with its own ``torch.optim.SGD`` (per-layer lr groups from
:func:`lmech.nn.param.param_groups`) on the same batches. It prints both times, the
throughput ratio and the largest parameter difference between the two (float32
round-off).

Reproducibility: the thread count is fixed (``--threads``, default 1) through the
OpenMP/OpenBLAS/MKL variables, which are set before numpy and torch load, and
``OMP_WAIT_POLICY=PASSIVE`` / ``GOMP_SPINCOUNT=0`` stop idle BLAS threads from spinning
on the cores the other side needs. Each width is timed ``--repeats`` times (default 5),
alternating ensemble and loop so that a change of machine load hits both, and the
median ratio is printed with its spread (min..max over the repeats). Part 2 times a coordinate check (3 SGD steps, 3 seeds, widths 64..1024, 2-class cross-entropy) with
``lmech.experiment.coord_check`` and with ``mup.coord_check.get_coord_data`` (MuReadout model,
MuSGD) when mup can be imported.
"""

from __future__ import annotations

import argparse
import os
import sys


def _threads_from_argv(default: int = 1) -> int:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return default


# before numpy and torch load: fixed threads, and no spinning of idle BLAS threads
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(_threads_from_argv())
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "0")

import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lmech.experiment.coord import coord_check  # noqa: E402
from lmech.experiment.ensemble import Ensemble, member_batches, train  # noqa: E402
from lmech.nn.models import MLPSpec, build  # noqa: E402
from lmech.nn.param import Parameterization, param_groups  # noqa: E402


def _data(n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g)
    W = torch.randn(d, 64, generator=g) / d**0.5
    y = torch.tanh(X @ W) @ torch.randn(64, generator=g)
    return X, y / y.std()


def _time_ensemble(spec, param, X, y, lrs, steps, batch) -> tuple[float, Ensemble]:
    ens = Ensemble.from_spec(spec, param, range(len(lrs)))
    t0 = time.perf_counter()
    train(ens, X, y, lr=lrs, steps=steps, batch_size=batch, seed=0, log_steps=[])
    return time.perf_counter() - t0, ens


def _time_loop(spec, param, X, y, lrs, steps, batch) -> tuple[float, list]:
    models = [build(spec, param, seed=s) for s in range(len(lrs))]
    opts = [torch.optim.SGD(param_groups(m, float(lr))) for m, lr in zip(models, lrs, strict=True)]
    mask = torch.ones(1, len(X), dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = member_batches(mask, batch, gen)[0]  # the ensemble's batch of this step
        xb, yb = X[idx], y[idx]
        for m, opt in zip(models, opts, strict=True):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.mse_loss(m(xb)[:, 0], yb).backward()
            opt.step()
    return time.perf_counter() - t0, models


def bench_ensemble(members: int, widths, steps: int, batch: int, repeats: int) -> None:
    X, y = _data(1024, 16)
    lrs = 2.0 ** np.linspace(-6, -2, members)
    print(f"== {members} MLPs 16-w-w-1 (tanh, muP), {steps} SGD steps, batch {batch}, float32, "
          f"{torch.get_num_threads()} thread(s), median of {repeats} runs")  # fmt: skip
    print(
        f"{'width':>6} {'ensemble s':>11} {'loop s':>9} {'ratio':>7} {'spread':>13} {'max|dp|':>9}"
    )
    for width in widths:
        spec = MLPSpec(16, width, 2, 1, "tanh")
        param = Parameterization("mup", "sgd", base_width=64)
        t_ens, t_loop = [], []
        for _ in range(repeats):  # alternate, so that load drift hits both sides
            te, ens = _time_ensemble(spec, param, X, y, lrs, steps, batch)
            tl, models = _time_loop(spec, param, X, y, lrs, steps, batch)
            t_ens.append(te)
            t_loop.append(tl)
        ratios = np.array(t_loop) / np.array(t_ens)
        diff = max(
            (p.detach() - ens.params[n][e]).abs().max().item()
            for e, m in enumerate(models)
            for n, p in m.named_parameters()
        )
        print(f"{width:>6} {np.median(t_ens):>11.2f} {np.median(t_loop):>9.2f} "
              f"{np.median(ratios):>6.2f}x {ratios.min():>5.2f}..{ratios.max():<5.2f}x "
              f"{diff:>9.1e}")  # fmt: skip


def _mup_models(widths, d):
    from mup import MuReadout, set_base_shapes

    class Net(torch.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.input = torch.nn.Linear(d, n)
            self.hidden = torch.nn.Linear(n, n)
            self.hidden2 = torch.nn.Linear(n, n)
            self.output = MuReadout(n, 2)

        def forward(self, x):
            h = torch.tanh(self.input(x))
            h = torch.tanh(self.hidden(h))
            return self.output(torch.tanh(self.hidden2(h)))

    def lazy(n):
        def make():
            return set_base_shapes(Net(n), Net(64), delta=Net(128))

        return make

    return {n: lazy(n) for n in widths}


def bench_coord(widths, skip_mup: bool) -> None:
    X, y = _data(64, 16)
    y = (y > 0).long()  # two classes: mup's coord check takes class labels
    spec = MLPSpec(16, 64, 3, 2, "tanh")
    t0 = time.perf_counter()
    coord_check(
        spec, Parameterization("mup", "sgd", base_width=64), widths, X, y, lr=0.1, steps=3,
        seeds=(0, 1, 2), loss="cross_entropy", dtype="float32",
    )  # fmt: skip
    t_lmech = time.perf_counter() - t0
    print(f"== coordinate check, widths {list(widths)}, 3 SGD steps, 3 seeds, batch 64")
    print(f"lmech.experiment.coord_check : {t_lmech:7.2f} s")
    if skip_mup:
        print("mup: skipped (--skip-mup)")
        return
    try:
        if "yaml" not in sys.modules:  # mup.shape imports yaml only to save base shapes
            try:
                import yaml  # noqa: F401
            except ImportError:
                sys.modules["yaml"] = types.ModuleType("yaml")
        from mup.coord_check import get_coord_data
    except ImportError as err:
        print(
            f"mup: not importable ({err}); install it with `pip install --no-deps --target DIR mup`"
        )
        print("     and pass --mup-path DIR (a plain `pip install mup` pulls a CUDA torch)")
        return
    t0 = time.perf_counter()
    get_coord_data(
        _mup_models(widths, 16), [(X, y)], optimizer="sgd", lr=0.1, mup=True, nsteps=3,
        nseeds=3, lossfn="xent", cuda=False, show_progress=False,
    )  # fmt: skip
    t_mup = time.perf_counter() - t0
    print(f"mup get_coord_data   : {t_mup:7.2f} s   (mup / lmech = {t_mup / t_lmech:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256, 1024])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (fixed)")
    ap.add_argument("--mup-path", default=None)
    ap.add_argument("--skip-mup", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mup_path:
        sys.path.insert(0, os.path.abspath(args.mup_path))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()}")
    bench_ensemble(args.members, args.widths, args.steps, args.batch, args.repeats)
    bench_coord((64, 128, 256, 512, 1024), args.skip_mup)


if __name__ == "__main__":
    main()
