"""Chunked learning-rate sweeps: CPU time and declared memory of chunks against one ensemble
and against one member at a time; the paper presets' CPU time from timed chunks.

    python benchmarks/transfer_chunks.py                 # part 1 (~1 CPU-min) and part 2
    python benchmarks/transfer_chunks.py --skip-paper    # part 1 only
    python benchmarks/transfer_chunks.py --steps 4       # part 2 with fewer timed steps

Part 1 runs the lr-transfer-width experiment (teacher-student, widths 64 and 512, depth 3,
2 seeds x 8 learning rates = 16 members per size, 50 steps) with the 16 members of a size
as one vmapped ensemble, in chunks of 4 and 2, and one member at a time (what a user
without the ensemble engine would write: one network after the other), and prints each
one's CPU time, its ratio to the one-ensemble time, the declared peak and the largest
relative difference of the loss table from the one-ensemble table (float32 round-off).

Part 2 estimates the paper presets' CPU time: for each size it times building one chunk
(the chunk the automatic budget gives on a 16 GiB limit, ``LMECH_MEMORY_LIMIT_GB=16``)
with its final-loss evaluation, and ``--steps`` training steps without it, and
extrapolates to the preset's steps, chunks and arms. A chunk that would not fit this
benchmark's 1.5 GiB is timed on fewer members and scaled; sizes where one member does
not fit are extrapolated from the largest timed size by the parameter
count (the per-step cost of these networks is matrix products, proportional to it).
One thread (``--threads``); on 2 cores the wall time is about half the CPU time.
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("LMECH_MEMORY_LIMIT_GB", "16")

import dataclasses  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import cpu_seconds  # noqa: E402

from lmech.experiment.ensemble import Ensemble, train  # noqa: E402
from lmech.experiment.transfer import adam_lr_sweep  # noqa: E402
from lmech.laws.transfer import lr_transfer as lt  # noqa: E402
from lmech.laws.transfer import mup_transformer_lr as mt  # noqa: E402
from lmech.laws.transfer._common import init_seeds, task_data  # noqa: E402
from lmech.laws.transfer._markov import markov_chain, sample  # noqa: E402
from lmech.nn import mup  # noqa: E402
from lmech.nn.gpt import GPT  # noqa: E402
from lmech.seeding import derive_seed, torch_generator  # noqa: E402

GIB = 2**30
CAP = 1.5 * GIB  # the most one timed chunk may declare here


def _cpu(fn):
    busy0, own0 = cpu_seconds()
    out = fn()
    busy1, own1 = cpu_seconds()
    return out, own1 - own0, max(0.0, (busy1 - busy0) - (own1 - own0))


def part1() -> None:
    base = lt.WidthSpec(widths=(64, 512), depth=3, steps=50, seeds=2, log2_lr_min=-8)
    fixed, per = base.member_bytes()
    rows, ref, ref_t = [], None, None
    for k in (16, 4, 2, 1):
        spec = dataclasses.replace(base, memory_budget_gib=(fixed + k * per + per // 2) / GIB)
        assert spec.chunk_size() == k
        table, own, other = _cpu(lambda s=spec: lt.LAW_WIDTH.experiment(s, 0, "cpu"))
        if ref is None:
            ref, ref_t = table, own
        diff = float(np.max(np.abs(table["loss"] - ref["loss"]) / ref["loss"]))
        rows.append((k, own, own / ref_t, spec.memory_bytes() / 2**20, diff, other))
    print("part 1: lr-transfer-width, widths 64 and 512, 16 members per size, 50 steps")
    print(f"{'members/chunk':>14} {'CPU s':>7} {'vs one':>7} {'declared MiB':>13} "
          f"{'max rel diff':>13} {'others CPU s':>13}")  # fmt: skip
    for k, own, ratio, mib, diff, other in rows:
        print(f"{k:>14} {own:7.2f} {ratio:6.2f}x {mib:13.0f} {diff:13.2e} {other:13.1f}")


def _time_steps(run, steps: int) -> tuple[float, float]:
    """(fixed, per-step) CPU seconds: ``run(0, True)`` builds the chunk and evaluates it
    once (the final loss); ``run(steps, False)`` trains without evaluating."""
    _, fixed, _ = _cpu(lambda: run(0, True))
    _, t, _ = _cpu(lambda: run(steps, False))
    return fixed, t / steps


def _extrapolate(name, sizes, measured, counts, chunks, steps, arms):
    total = 0.0
    top = max(measured)
    print(f"{name}: size, chunk, chunks, per-step CPU s of a chunk, estimated CPU s")
    for s in sizes:
        if s in measured:
            fixed, per = measured[s]
            how = "timed"
        else:
            f0, p0 = measured[top]
            scale = counts[s] / counts[top] * chunks[s][0] / chunks[top][0]
            fixed, per, how = f0 * scale, p0 * scale, f"from {top} x params"
        est = arms * chunks[s][1] * (fixed + steps * per)
        total += est
        print(f"  {s:>6} {chunks[s][0]:>4} {chunks[s][1]:>4} {per:10.3f} {est:12.0f}  ({how})")
    print(f"  total: {total:.0f} CPU s = {total / 3600:.1f} CPU-hours on one core")
    return total


def part2_width(law, steps: int) -> float:
    paper = law.preset("paper")
    X, y, loss, k = task_data(paper.task, paper.num_train, paper.input_dim, paper.data_seed)
    inits = init_seeds(0, paper.seeds)
    members = [(i, lr) for i in range(paper.seeds) for lr in paper.lrs()]
    measured, counts, chunks = {}, {}, {}
    for s in paper.sizes():
        c = paper.chunk_size(s)
        chunks[s] = (c, -(-len(members) // c))
        counts[s] = paper.param_count(s)
        fixed, per = paper.member_bytes(s)
        timed = min(c, int((CAP - fixed) // per))  # members timed (scaled to the chunk)
        if timed < 1:
            continue
        arch, p = paper.model(paper.arms()[0][0], s, X.shape[1], k)
        group = members[:timed]

        def run(n, log, arch=arch, p=p, group=group):
            ens = Ensemble.from_spec(arch, p, [inits[i] for i, _ in group])
            train(
                ens, X, y, lr=[lr for _, lr in group], steps=n, optimizer=p.optimizer,
                loss=loss, batch_size=paper.batch_size, seed=derive_seed(0, "batches"),
                log_steps=[n] if log else [],
            )  # fmt: skip

        f_t, p_t = _time_steps(run, steps)
        measured[s] = (f_t * c / timed, p_t * c / timed)
    return _extrapolate(law.name, paper.sizes(), measured, counts, chunks, paper.steps, 2)


def part2_gpt(steps: int) -> float:
    paper = mt.LAW.preset("paper")
    P, _ = markov_chain(paper)
    seqs = sample(P, steps * paper.batch, paper.seq_len + 1, torch_generator(0, "batches"))
    ev = sample(P, paper.eval_sequences, paper.seq_len + 1, torch_generator(0, "eval"))
    batches = [(b[:, :-1], b[:, 1:]) for b in seqs.split(paper.batch)]
    base = GPT(paper.config(paper.base_width))
    delta = GPT(paper.config(2 * paper.base_width))
    lrs = paper.lrs()
    measured, counts, chunks = {}, {}, {}
    for w in paper.widths:
        c = paper.chunk_size(w)
        chunks[w] = (c, -(-paper.members() // c))
        fixed, per = paper.member_bytes(w)
        counts[w] = paper.n_layer * (4 + 2 * paper.ffn_mult) * w * w
        n_lr = min(len(lrs), c, int((CAP - fixed) // per))  # members timed (one seed)
        if n_lr < 1:
            continue
        torch.manual_seed(derive_seed(0, "init", 0))
        m = GPT(paper.config(w))
        mup.parameterize(m, base=base, delta=delta, kind="mup", zero_init=["*.q.weight"])
        table = {r.name: r for r in mup.table(m)}

        def run(n, log, m=m, table=table, n_lr=n_lr):
            evb = (ev[:, :-1], ev[:, 1:]) if log else (ev[:1, :-1], ev[:1, 1:])
            adam_lr_sweep(
                [m], lrs[:n_lr], batches[:n], evb, loss_fn=mt._loss,
                lr_factors={k: r.lr_adam for k, r in table.items()},
                eps_factors={k: r.eps_adam for k, r in table.items()},
            )  # fmt: skip

        fixed_t, per_t = _time_steps(run, steps)
        measured[w] = (fixed_t * c / n_lr, per_t * c / n_lr)  # one chunk of c members
    return _extrapolate(mt.LAW.name, paper.widths, measured, counts, chunks, paper.steps, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=5, help="timed training steps per chunk")
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--skip-part1", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    if not args.skip_part1:
        part1()
    if not args.skip_paper:
        print("part 2: paper presets (LMECH_MEMORY_LIMIT_GB=16: automatic budget 8 GiB)")
        for law in (lt.LAW_WIDTH, lt.LAW_DEPTH):
            part2_width(law, args.steps)
        part2_gpt(args.steps)
    print(f"({time.time() - t0:.0f} s wall)")


if __name__ == "__main__":
    main()
