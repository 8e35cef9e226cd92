r"""seesaw-equivalence: learning-rate decay vs batch ramp, for SGD and normalized SGD.

Claim:
    Take phase-indexed schedules (eta_k, B_k) = (eta alpha^-k, B beta^k), each phase
    using the same number of samples. For SGD on noisy linear regression, schedules
    with equal alpha beta give the same risk per sample: halving the learning rate
    (alpha = 2, beta = 1) matches doubling the batch (alpha = 1, beta = 2) with fewer
    serial steps. For normalized SGD (w <- w - eta g / sqrt(E|g|^2)), which in the
    noise-dominated regime is SGD with eta_eff ~ eta sqrt(B), the condition becomes
    alpha sqrt(beta) = const: Seesaw (alpha = sqrt 2, beta = 2) matches halving, while
    doubling the batch alone does not.

    Checks: (i) the exact recursion (plain and expectation-normalized) matches SGD runs
    of all six schedules at every phase end (max |z| <= 4); (ii) the measured SGD
    halving and batch-doubling trajectories agree (max |z| of their difference <= 4);
    (iii) in the verified recursion, SGD halving and doubling agree within 2% and NSGD
    Seesaw matches NSGD halving within 5%; (iv) NSGD batch-doubling is rejected: it
    differs from NSGD halving by >= 30% in the recursion and by >= 8 s.e. in the runs.

System:
    d = ``num_modes``, lambda_k ∝ k^-1.5 (trace 1), w*_k^2 ∝ k^-1 with initial excess
    0.5, sigma^2 = ``noise_variance``, ``phases`` phases of ``samples_per_phase``
    samples, B_0 = ``batch0``, eta_0 tr Sigma = ``lr_times_trace``. NSGD's eta is set so
    its initial effective rate equals eta_0.

Measurement:
    :func:`lmech.experiment.sgd.online_sgd` (``sampler="projected"``: the exact law of
    the minibatch gradient, O(B + d) draws per step), R runs per schedule; NSGD
    normalizes by the run-average of |g|^2 at each step (an estimate of E|g|^2).

Known limits:
    The equivalence is only up to constants (the SGD theorem of Meterez et al. bounds
    the risks within constant factors); here the exact recursion shows agreement to
    0.8% for SGD and 2.4% for NSGD Seesaw vs halving. Measured at the quick preset
    (seeds 0, 1, 2): max |z| 2.7, 1.6, 2.2; SGD pair |z| 0.9, 1.0, 1.5; NSGD doubling
    gap 13.3, 13.1, 11.0 s.e. It breaks beyond the critical
    batch size, where the gradient noise no longer dominates (not probed at quick).
    "Seesaw with SGD" (eta/sqrt 2, 2B) is not equivalent (8% off at the last phase).

Source:
    Meterez, Morwani, Wu, Oncescu, Pehlevan, Kakade, "Seesaw: accelerating training by
    balancing learning rate and batch size scheduling", arXiv 2510.14717, Sec. 3
    (Thm. 1, SGD) and Sec. 4 (NSGD, the 1/sqrt(2) rule).

Run:
    ``lmech check seesaw-equivalence`` (quick, ~7 s CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.experiment.sgd import online_sgd
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.theory import sgd as th

# name: (alpha, beta, normalized)
SCHEDULES = {
    "sgd_halve": (2.0, 1.0, False),
    "sgd_double": (1.0, 2.0, False),
    "sgd_seesaw": (2**0.5, 2.0, False),
    "nsgd_halve": (2.0, 1.0, True),
    "nsgd_seesaw": (2**0.5, 2.0, True),
    "nsgd_double": (1.0, 2.0, True),
}
COLUMNS = ("schedule", "phase", "samples", "serial_steps", "excess")
MEAS = (*COLUMNS, "excess_se")


@dataclass(frozen=True)
class Spec(LawSpec):
    num_modes: int = param(100, ge=2, le=100000, doc="d")
    noise_variance: float = param(0.5, gt=0, doc="sigma^2")
    phases: int = param(4, ge=2, le=12, doc="number of phases")
    samples_per_phase: int = param(1024, ge=16, doc="samples per phase")
    batch0: int = param(4, ge=1, doc="B_0")
    lr_times_trace: float = param(0.25, gt=0, le=0.5, doc="eta_0 tr Sigma")
    runs: int = param(300, ge=2, doc="R runs per schedule")

    def validate(self) -> None:
        from lmech.errors import ConfigError

        top = self.batch0 * 2 ** (self.phases - 1)
        if top > self.samples_per_phase:
            raise ConfigError(
                f"the last batch B_0 2^(phases-1) = {top} exceeds samples_per_phase = "
                f"{self.samples_per_phase}; use fewer phases or more samples per phase"
            )

    def memory_bytes(self) -> int:
        # projected sampler, one schedule at a time: R x d errors, normals and gradient;
        # schedules of at most phases x samples_per_phase / B_0 steps; 2x headroom
        T = self.phases * self.samples_per_phase // self.batch0
        sim = 8 * self.runs * (8 * self.num_modes + 4 * self.batch0 * 2**self.phases)
        rec = 8 * (10 * self.num_modes + 8 * (T + 1))
        return 2 * (sim + rec) + 2**24

    def problem(self):
        lam = th.power_law_spectrum(self.num_modes, 1.5)
        c0 = np.arange(1, self.num_modes + 1) ** -1.0
        return lam, c0 * 0.5 / (0.5 * float(lam @ c0))

    def schedule(self, name: str):
        alpha, beta, normalized = SCHEDULES[name]
        lam, c0 = self.problem()
        eta0 = self.lr_times_trace / lam.sum()
        lr, bs, ends = [], [], []
        for k in range(self.phases):
            b = int(round(self.batch0 * beta**k))
            n = self.samples_per_phase // b
            lr += [eta0 * alpha**-k] * n
            bs += [b] * n
            ends.append(len(lr))
        lr = np.array(lr)
        if normalized:  # initial effective rate eta / sqrt(E|g_0|^2) = eta_0
            B0, s2 = self.batch0, self.noise_variance
            g2 = (1 + 1 / B0) * np.sum(lam**2 * c0) + lam.sum() * (lam @ c0 + s2) / B0
            lr = lr * np.sqrt(g2)
        return lr, np.array(bs), np.array(ends), normalized


PRESETS = {
    "smoke": Spec(num_modes=10, phases=2, samples_per_phase=32, runs=20),
    "quick": Spec(),
    "paper": Spec(num_modes=500, phases=5, samples_per_phase=4096, runs=2000),
}


def _rows(spec, name, ends, values, se=None):
    out = []
    for k, t in enumerate(ends):
        row = [name, k, (k + 1) * spec.samples_per_phase, int(t), values[k]]
        out.append(row + ([se[k]] if se is not None else []))
    return out


def theory(spec: Spec) -> pd.DataFrame:
    lam, c0 = spec.problem()
    rows = []
    for name in SCHEDULES:
        lr, bs, ends, norm = spec.schedule(name)
        cur = th.online_moments(lam, c0, spec.noise_variance, lr, bs, normalized=norm)
        rows += _rows(spec, name, ends, cur.loss[ends] - 0.5 * spec.noise_variance)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, c0 = spec.problem()
    rows = []
    for name in SCHEDULES:
        lr, bs, ends, norm = spec.schedule(name)
        mc = online_sgd(
            lam,
            np.sqrt(c0),
            spec.noise_variance,
            lr,
            bs,
            runs=spec.runs,
            seed=seed,
            keys=(name,),
            log_steps=ends,
            normalized=norm,
            sampler="projected",
            device=device,
        )
        rows += _rows(spec, name, ends, mc["loss"][0] - 0.5 * spec.noise_variance, mc["loss_se"][0])
    return pd.DataFrame(rows, columns=list(MEAS))


def _get(df, name, col):
    return df[df.schedule == name].sort_values("phase")[col].to_numpy()


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    j = pred.merge(meas, on=["schedule", "phase"], suffixes=("_pred", "_meas"))
    z = np.abs(j["excess_pred"] - j["excess_meas"]) / j["excess_se"]
    worst = j.iloc[int(np.argmax(z))]
    mh, md = _get(meas, "sgd_halve", "excess"), _get(meas, "sgd_double", "excess")
    sh, sd = _get(meas, "sgd_halve", "excess_se"), _get(meas, "sgd_double", "excess_se")
    pair_z = float(np.max(np.abs(mh - md) / np.hypot(sh, sd)))
    th_h, th_d = _get(pred, "sgd_halve", "excess"), _get(pred, "sgd_double", "excess")
    nh, ns, nd = (_get(pred, f"nsgd_{k}", "excess") for k in ("halve", "seesaw", "double"))
    mnh, mnd = _get(meas, "nsgd_halve", "excess"), _get(meas, "nsgd_double", "excess")
    snh, snd = _get(meas, "nsgd_halve", "excess_se"), _get(meas, "nsgd_double", "excess_se")
    return Evaluation(
        {
            "max_abs_z": float(z.max()),
            "sgd_pair_max_abs_z": pair_z,
            "sgd_pair_theory_rel_diff": float(np.max(np.abs(th_d / th_h - 1))),
            "nsgd_seesaw_theory_rel_diff": float(np.max(np.abs(ns / nh - 1))),
            "nsgd_double_theory_rel_diff": float(nd[-1] / nh[-1] - 1),
            "nsgd_double_measured_z": float((mnd[-1] - mnh[-1]) / np.hypot(snd[-1], snh[-1])),
        },
        detail=f"worst z at {worst['schedule']} phase {int(worst['phase'])}; serial steps "
        f"SGD halving {int(_get(pred, 'sgd_halve', 'serial_steps')[-1])} vs doubling "
        f"{int(_get(pred, 'sgd_double', 'serial_steps')[-1])}",
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for i, name in enumerate(SCHEDULES):
        p, m = pred[pred.schedule == name], meas[meas.schedule == name]
        color, ls = f"C{i}", "-" if name.startswith("sgd") else "--"
        ax.plot(p["samples"], p["excess"], ls, color=color, label=name)
        ax.errorbar(m["samples"], m["excess"], 2 * m["excess_se"], fmt="o", ms=3, color=color)
        bx.plot(p["serial_steps"], p["excess"], ls + "o", ms=3, color=color, label=name)
    ax.set(xscale="log", yscale="log", xlabel="samples", ylabel="excess risk", title="per sample")
    bx.set(xscale="log", yscale="log", xlabel="serial steps", title="per serial step")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


LAW = Law(
    name="seesaw-equivalence",
    claim="SGD: LR halving = batch doubling per sample; NSGD: (eta/sqrt2, 2B) = LR halving",
    source="Meterez et al. 2025, Seesaw (arXiv 2510.14717), Sec. 3 Thm. 1 and Sec. 4",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "max_abs_z",
            "<=",
            4.0,
            why="24 phase ends x schedules, |recursion - MC| / s.e.; < 0.2% chance above 4 "
            "for an exact theory",
        ),
        Check(
            "sgd_pair_max_abs_z",
            "<=",
            4.0,
            why="measured SGD halving vs doubling, difference / s.e. of the difference "
            "(independent runs); equal risks give |z| > 4 with < 0.03% chance per phase",
        ),
        Check(
            "sgd_pair_theory_rel_diff",
            "<=",
            0.02,
            why="the exact recursion gives 0.8% at most here; 2% leaves room for other "
            "spectra at this eta (second-order eta^2 terms differ between the schedules)",
        ),
        Check(
            "nsgd_seesaw_theory_rel_diff",
            "<=",
            0.05,
            why="NSGD Seesaw is equivalent only in the noise-dominated regime; the signal "
            "part of E|g|^2 adds 2.4% here",
        ),
        Check(
            "nsgd_double_theory_rel_diff",
            ">=",
            0.3,
            why="null: NSGD batch doubling alone keeps eta_eff ∝ sqrt(B) growing; the "
            "recursion puts it 104% above halving at the last phase",
        ),
        Check(
            "nsgd_double_measured_z",
            ">=",
            8.0,
            why="the same null in the runs: the gap is 11-13 s.e. of the difference at R = 300",
        ),
    ),
    # 20% off the excess risk is >= 5 s.e. at the late phases (s.e. 1-4%)
    prediction=Prediction("excess", relative=0.2),
    theory_columns=COLUMNS,
    experiment_columns=MEAS,
    tags=("sgd", "synthetic", "schedules"),
    doc=__doc__ or "",
)
