import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, InputError
from faconv.testing import compare_tensors
from tests.layers.keras_reference import keras_convlstm2d


def _keras_weights(rng, kh, kw, C, F, use_bias=True):
    w = [rng.normal(0, 0.3, (kh, kw, C, 4 * F)), rng.normal(0, 0.3, (kh, kw, F, 4 * F))]
    return w + [rng.normal(0, 0.3, 4 * F)] if use_bias else w


@st.composite
def keras_cases(draw):
    kh, kw = draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([1, 3, 4]))
    strided = draw(st.booleans())
    return dict(
        B=draw(st.integers(1, 2)), T=draw(st.integers(1, 4)),
        # big enough by construction for "valid": (k - 1) * dilation + 1 <= 5
        H=draw(st.integers(5, 8)), W=draw(st.integers(5, 8)),
        C=draw(st.integers(1, 3)), F=draw(st.integers(1, 4)), kh=kh, kw=kw,
        padding=draw(st.sampled_from(["same", "valid"])),
        strides=(draw(st.integers(1, 2)), draw(st.integers(1, 2))) if strided else (1, 1),
        dilation=(1, 1) if strided else (draw(st.integers(1, 2)), 1),
        use_bias=draw(st.booleans()), go_backwards=draw(st.booleans()),
        seed=draw(st.integers(0, 9999)),
    )  # fmt: skip


@given(case=keras_cases())
def test_matches_independent_keras_reference(case):
    rng = np.random.default_rng(case["seed"])
    c = case
    weights = _keras_weights(rng, c["kh"], c["kw"], c["C"], c["F"], c["use_bias"])
    xs = rng.normal(size=(c["B"], c["T"], c["H"], c["W"], c["C"]))
    layer = faconv.ConvLSTM2D(
        c["C"], c["F"], (c["kh"], c["kw"]), strides=c["strides"], padding=c["padding"],
        dilation_rate=c["dilation"], use_bias=c["use_bias"], return_sequences=True,
        return_state=True, go_backwards=c["go_backwards"],
    ).double()  # fmt: skip
    layer.load_keras_weights(weights)
    out, h, cc = layer(torch.from_numpy(xs))
    ref_out, ref_h, ref_c = keras_convlstm2d(
        xs, weights[0], weights[1], weights[2] if c["use_bias"] else None, c["strides"],
        c["padding"], c["dilation"], c["go_backwards"],
    )  # fmt: skip
    compare_tensors(out, torch.from_numpy(ref_out))
    compare_tensors(h, torch.from_numpy(ref_h))
    compare_tensors(cc, torch.from_numpy(ref_c))


def test_float32_within_roundoff_and_weight_roundtrip():
    rng = np.random.default_rng(0)
    weights = [w.astype(np.float32) for w in _keras_weights(rng, 3, 3, 7, 8)]
    xs = rng.normal(size=(2, 6, 10, 12, 7)).astype(np.float32)
    layer = faconv.ConvLSTM2D(7, 8, 3, padding="same")
    layer.load_keras_weights(weights)
    for a, b in zip(layer.get_keras_weights(), weights):
        np.testing.assert_array_equal(a, b)
    out = layer(torch.from_numpy(xs))
    ref = keras_convlstm2d(xs.astype(np.float64), *[w.astype(np.float64) for w in weights],
                           padding="same")[1]  # fmt: skip
    assert out.shape == (2, 10, 12, 8)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-4, atol=1e-5)


def test_output_shapes_follow_keras():
    x = torch.randn(2, 3, 11, 9, 4)
    assert faconv.ConvLSTM2D(4, 5, 3)(x).shape == (2, 9, 7, 5)  # valid
    assert faconv.ConvLSTM2D(4, 5, 3, strides=2, padding="same")(x).shape == (2, 6, 5, 5)
    assert faconv.ConvLSTM2D(4, 5, (3, 1), dilation_rate=2)(x).shape == (2, 7, 9, 5)
    seq, h, c = faconv.ConvLSTM2D(4, 5, 3, return_sequences=True, return_state=True)(x)
    assert seq.shape == (2, 3, 9, 7, 5) and h.shape == c.shape == (2, 9, 7, 5)
    torch.testing.assert_close(seq[:, -1], h)


def test_channels_first_equals_channels_last():
    x = torch.randn(2, 4, 6, 7, 3)
    last = faconv.ConvLSTM2D(3, 4, 3, padding="same", return_sequences=True, return_state=True)
    first = faconv.ConvLSTM2D(3, 4, 3, padding="same", return_sequences=True, return_state=True,
                              data_format="channels_first")  # fmt: skip
    first.load_state_dict(last.state_dict())
    out_l = last(x)
    out_f = first(x.permute(0, 1, 4, 2, 3))
    torch.testing.assert_close(out_f[0], out_l[0].permute(0, 1, 4, 2, 3))
    torch.testing.assert_close(out_f[1], out_l[1].permute(0, 3, 1, 2))


def test_unit_forget_bias_and_initializers():
    layer = faconv.ConvLSTM2D(3, 4, 3)
    b = layer.cell.bias.detach()
    assert torch.equal(b[4:8], torch.ones(4)) and b[:4].abs().sum() == 0 and b[8:].abs().sum() == 0
    assert faconv.ConvLSTM2D(3, 4, 3, unit_forget_bias=False).cell.bias.abs().sum() == 0
    # Keras "orthogonal": the (kh*kw*F, 4F) flattened recurrent kernel has orthonormal columns
    rk = layer.get_keras_weights()[1].reshape(-1, 16)
    np.testing.assert_allclose(rk.T @ rk, np.eye(16), atol=1e-5)
    # glorot_uniform bound sqrt(6 / (fan_in + fan_out))
    k = layer.get_keras_weights()[0]
    assert np.abs(k).max() <= np.sqrt(6 / (9 * 3 + 9 * 16))


def test_dropout_masks_are_per_gate_and_shared_over_time():
    layer = faconv.ConvLSTM2D(2, 3, 1, dropout=0.5, return_sequences=True).train()
    x = torch.ones(1, 4, 3, 3, 2)
    cell = layer.cell
    layer(x)
    masks = cell._input_masks
    assert masks.shape == (4, 1, 3, 3, 2)  # one mask per gate, broadcast over the 4 steps
    assert not torch.equal(masks[0], masks[1])
    assert set(masks.unique().tolist()) <= {0.0, 2.0}
    # eval mode: deterministic, no masks
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def test_recurrent_dropout_changes_training_output_only():
    layer = faconv.ConvLSTM2D(2, 3, 3, padding="same", recurrent_dropout=0.5, return_sequences=True)
    x = torch.randn(1, 4, 5, 5, 2)
    layer.eval()
    ref = layer(x)
    layer.train()
    torch.manual_seed(1)
    assert not torch.allclose(layer(x), ref)


def test_load_keras_weights_errors():
    layer = faconv.ConvLSTM2D(3, 4, 3)
    with pytest.raises(InputError, match="expected 3 Keras weight arrays"):
        layer.load_keras_weights([np.zeros((3, 3, 3, 16))])
    with pytest.raises(InputError, match="recurrent_kernel has shape"):
        layer.load_keras_weights([np.zeros((3, 3, 3, 16)), np.zeros((3, 3, 3, 16)), np.zeros(16)])
    before = [w.copy() for w in layer.get_keras_weights()]
    diverged = [np.zeros((3, 3, 3, 16)), np.zeros((3, 3, 4, 16)), np.full(16, np.nan)]
    with pytest.raises(InputError, match="Keras bias holds 16 NaN or Inf value"):
        layer.load_keras_weights(diverged)
    with pytest.raises(InputError, match="Keras kernel does not hold numbers"):
        layer.load_keras_weights([np.full((3, 3, 3, 16), "x"), *diverged[1:]])
    for a, b in zip(layer.get_keras_weights(), before):  # nothing was half-loaded
        np.testing.assert_array_equal(a, b)


def test_keras_argument_validation():
    with pytest.raises(ConfigError, match="strides > 1 is not compatible with dilation_rate"):
        faconv.ConvLSTM2D(3, 4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ConfigError, match="padding"):
        faconv.ConvLSTM2D(3, 4, 3, padding="causal")
    with pytest.raises(ConfigError, match="dropout"):
        faconv.ConvLSTM2D(3, 4, 3, dropout=1.5)
    with pytest.raises(ConfigError, match="data_format"):
        faconv.ConvLSTM2D(3, 4, 3, data_format="NHWC")
    with pytest.raises(ConfigError, match="kernel_initializer"):
        faconv.ConvLSTM2D(3, 4, 3, kernel_initializer="xavier")
    with pytest.raises(ConfigError, match="too small"):
        faconv.ConvLSTM2D(3, 4, 5)(torch.randn(1, 2, 3, 3, 3))
    assert faconv.ConvLSTM2D(3, 4, 3, padding="SAME").padding == "same"


def test_backward_steps_see_channels_first_gradients():
    """A loss on the ``(B, T, H, W, F)`` output sends back a channels-last gradient; the
    one-convolution steps get it once, transposed to their channels-first layout (no strided
    elementwise backward per step), and the gradients equal those of a contiguous output."""
    torch.manual_seed(0)
    layer = faconv.ConvLSTM2D(3, 4, 3, padding="same", return_sequences=True)
    x = torch.randn(2, 3, 5, 6, 3)
    seen = []
    step = layer.cell.step

    def spy(*args):
        h, state = step(*args)
        h.register_hook(lambda g: seen.append(g.stride(2) == 1))  # W innermost: NCHW memory
        return h, state

    layer.cell.step = spy
    w = torch.randn(2, 3, 5, 6, 4)  # what a following layer sends back: (B, T, H, W, F) memory
    (layer(x) * w).sum().backward()
    del layer.cell.step
    assert seen == [True] * 3
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    (layer(x).contiguous() * w).sum().backward()
    for g, p in zip(grads, layer.parameters()):
        torch.testing.assert_close(g, p.grad)
