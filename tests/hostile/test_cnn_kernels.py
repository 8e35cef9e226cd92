"""Bad descriptions and inputs of lmech.kernels.stax get clear lmech.errors exceptions."""

import pytest
import torch

from lmech.errors import ConfigError, InputError, LmechError
from lmech.kernels import stax


def _raises(cls, match, fn, *a, **kw):
    with pytest.raises(cls, match=match) as info:
        fn(*a, **kw)
    assert isinstance(info.value, LmechError)
    return str(info.value)


def test_kernel_larger_than_input_under_valid_padding():
    msg = _raises(
        ConfigError, "larger than the input length 4 under 'valid'",
        stax.serial, stax.Conv2d(8, 5, padding="valid"), input_shape=(1, 4, 6),
    )  # fmt: skip
    assert "padding='zero'" in msg  # says how to fix it
    _raises(ConfigError, "window 3 is larger", stax.serial,
            stax.AvgPool1d(3), input_shape=(2, 2))  # fmt: skip
    # the same window under zero padding is fine
    stax.serial(stax.Conv2d(8, 5, padding="zero"), input_shape=(1, 4, 6))


@pytest.mark.parametrize("stride", [0, -1, (1, 0)])
def test_stride_below_one(stride):
    _raises(ConfigError, "stride", stax.Conv2d, 8, 3, stride=stride)
    _raises(ConfigError, "stride", stax.AvgPool2d, 2, stride=stride)


def test_stride_wrong_type():
    _raises(ConfigError, "stride", stax.Conv1d, 8, 3, stride=1.5)
    _raises(ConfigError, "kernel_size", stax.Conv2d, 8, (3, 3, 3))


def test_mismatched_channel_counts():
    _raises(
        ConfigError, "expects 3 input channels but the previous layer gives 1",
        stax.serial, stax.Conv2d(8, 3, in_channels=3), input_shape=(1, 5, 5),
    )  # fmt: skip
    _raises(
        ConfigError, "equal shapes",
        stax.serial,
        stax.Conv2d(8, 3), stax.FanOut(2), stax.Parallel([stax.Conv2d(16, 3)], []),
        stax.FanInSum(), input_shape=(1, 5, 5),
    )  # fmt: skip
    _raises(ConfigError, "expects 10 input channels", stax.serial,
            stax.Flatten(), stax.Dense(4, in_channels=10), input_shape=(2, 3))  # fmt: skip


def test_pooling_a_1d_input_as_2d():
    msg = _raises(ConfigError, "AvgPool2d pools 2 spatial axes but the input has shape \\(3, 8\\)",
                  stax.serial, stax.AvgPool2d(2), input_shape=(3, 8))  # fmt: skip
    assert "AvgPool1d" in msg
    _raises(ConfigError, "use Conv1d", stax.serial, stax.Conv2d(4, 3), input_shape=(3, 8))
    _raises(ConfigError, "AvgPool1d pools 1", stax.serial, stax.AvgPool1d(2),
            input_shape=(3, 8, 8))  # fmt: skip
    _raises(ConfigError, "needs spatial axes", stax.serial, stax.GlobalAvgPool(),
            input_shape=(5,))  # fmt: skip


def test_structural_errors():
    _raises(ConfigError, "flat input", stax.serial, stax.Dense(3), input_shape=(1, 4, 4))
    _raises(ConfigError, "padding must be one of", stax.Conv2d, 4, 3, padding="same")
    _raises(ConfigError, "centred inputs", stax.serial, stax.Conv2d(4, 3), stax.Relu(),
            stax.LayerNorm(), input_shape=(1, 4, 4))  # fmt: skip
    _raises(ConfigError, "correlated", stax.serial, stax.Conv2d(4, 3), stax.Relu(),
            stax.FanOut(2), stax.Parallel([stax.Relu()], []), stax.FanInSum(),
            input_shape=(1, 4, 4))  # fmt: skip
    _raises(ConfigError, "close them with FanInSum", stax.serial, stax.FanOut(2),
            input_shape=(1, 4))  # fmt: skip
    _raises(ConfigError, "FanOut\\(n\\)", stax.serial, stax.FanOut(2),
            stax.Parallel([], [], []), input_shape=(1, 4))  # fmt: skip
    _raises(ConfigError, "input_shape", stax.serial, stax.Relu(), input_shape=(1, 2, 3, 4))
    _raises(ConfigError, "weight_std", stax.Dense, 3, weight_std=float("nan"))
    _raises(ConfigError, "width", stax.Conv2d, 0, 3)
    _raises(ConfigError, "unknown activation", stax.Elementwise, "softplus")
    _raises(ConfigError, "spatial shape", stax.serial(stax.Conv1d(2, 3), input_shape=(1, 5)).ntk)


def test_bad_inputs_to_the_kernel():
    net = stax.serial(stax.Conv2d(4, 3), stax.Relu(), stax.GlobalAvgPool(), stax.Dense(1),
                      input_shape=(1, 4, 4))  # fmt: skip
    k = net.ntk()
    _raises(InputError, "rows or", k.block, torch.zeros(2, 15, dtype=torch.float64),
            torch.zeros(2, 16, dtype=torch.float64))  # fmt: skip
    _raises(InputError, "floating point", k.block, torch.zeros(2, 16, dtype=torch.int64),
            torch.zeros(2, 16, dtype=torch.int64))  # fmt: skip
    bad = torch.zeros(2, 16, dtype=torch.float64)
    bad[0, 0] = float("nan")
    _raises(InputError, "finite", k.block, bad, bad)
    _raises(InputError, "torch.Tensor", k.block, [[0.0] * 16], [[0.0] * 16])


def test_memory_blow_up_is_refused(monkeypatch):
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "1")
    net = stax.serial(stax.Conv2d(4, 3), stax.Relu(), stax.GlobalAvgPool(), stax.Dense(1),
                      input_shape=(1, 28, 28))  # fmt: skip
    X = torch.zeros(30_000, 784, dtype=torch.float64)
    _raises(InputError, "memory", net.ntk().block, X, X)
