"""The dilated depthwise convolution's CPU backward (eager and C kernel) against autograd through
``F.conv2d``."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from faconv.functional import native
from faconv.functional.depthwise import _DilatedDepthwiseCPU, depthwise_conv2d


def _reference(x, w, b, padding, d):
    return F.conv2d(x, w, b, padding=padding, dilation=d, groups=x.shape[1])


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 5),
    size=st.tuples(st.integers(9, 14), st.integers(9, 14)),
    kernel=st.sampled_from([1, 3, 5]),
    dilation=st.integers(1, 3),
    wrap=st.booleans(),
    channels_last=st.booleans(),
    bias=st.booleans(),
)
def test_values_and_gradients_equal_conv2d(
    batch, channels, size, kernel, dilation, wrap, channels_last, bias
):
    g = torch.Generator().manual_seed(batch * 100 + channels * 10 + kernel + dilation)
    p = dilation * (kernel - 1) // 2
    # "same" padding, or none along the width (the mixer pads longitude circularly itself)
    padding = (p, 0) if wrap else (p, p)
    width = size[1] + (2 * p if wrap else 0)  # the mixer's input carries its wrapped columns
    x = torch.randn(batch, size[0], width, channels, generator=g, dtype=torch.float64)
    x = x.permute(0, 3, 1, 2) if channels_last else x.permute(0, 3, 1, 2).contiguous()
    w = torch.randn(channels, 1, kernel, kernel, generator=g, dtype=torch.float64)
    b = torch.randn(channels, generator=g, dtype=torch.float64) if bias else None
    leaves = [t.requires_grad_() for t in (x, w, b) if t is not None]
    y = depthwise_conv2d(x, w, b, padding, dilation)
    ref = _reference(x, w, b, padding, dilation)
    torch.testing.assert_close(y, ref)
    cot = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ours = torch.autograd.grad(y, leaves, cot)
    theirs = torch.autograd.grad(ref, leaves, cot)
    for a, r in zip(ours, theirs):
        torch.testing.assert_close(a, r)


def test_gradcheck_and_partial_gradients():
    x = torch.randn(2, 3, 8, 9, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: _DilatedDepthwiseCPU.apply(x, w, b, (2, 2), 2), (x, w, b)
    )
    # only the input needs a gradient (a frozen mixer): the weight's is not computed
    w.requires_grad_(False)
    (gx,) = torch.autograd.grad(depthwise_conv2d(x, w, None, (2, 2), 2).sum(), x)
    torch.testing.assert_close(
        gx, torch.autograd.grad(_reference(x, w, None, (2, 2), 2).sum(), x)[0]
    )


def test_undilated_and_no_grad_calls_are_plain_conv2d():
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    w = torch.randn(2, 1, 3, 3)
    assert type(depthwise_conv2d(x, w, None, (1, 1), 1).grad_fn).__name__ == "ConvolutionBackward0"
    assert "DilatedDepthwise" in type(depthwise_conv2d(x, w, None, (2, 2), 2).grad_fn).__name__
    with torch.no_grad():
        assert depthwise_conv2d(x, w, None, (2, 2), 2).grad_fn is None
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the plain op casts under autocast
        y = depthwise_conv2d(x, w, None, (2, 2), 2)
    assert y.dtype == torch.bfloat16 and type(y.grad_fn).__name__ == "ConvolutionBackward0"
    y.float().sum().backward()
    assert x.grad.dtype == torch.float32


@pytest.mark.skipif(not native.available(), reason=native.status())
@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.sampled_from([3, 8, 16, 20]),  # the 8-wide vector path and the scalar one
    kernel=st.sampled_from([3, 5]),
    dilation=st.integers(2, 4),
    channels_last=st.booleans(),
    seed=st.integers(0, 99),
)
def test_float32_weight_gradient_of_the_c_kernel(
    batch, channels, kernel, dilation, channels_last, seed
):
    # float32 takes the C kernel (one pass over the rows); float64 gives the reference
    g = torch.Generator().manual_seed(seed)
    p = dilation * (kernel - 1) // 2
    x = torch.randn(batch, 11, 13, channels, generator=g).permute(0, 3, 1, 2)
    x = x if channels_last else x.contiguous()
    w = torch.randn(channels, 1, kernel, kernel, generator=g).requires_grad_()
    cot = torch.randn(batch, channels, 11, 13, generator=g)
    (gw,) = torch.autograd.grad(depthwise_conv2d(x, w, None, (p, p), dilation), [w], cot)
    with native.disabled():
        (gw_eager,) = torch.autograd.grad(depthwise_conv2d(x, w, None, (p, p), dilation), [w], cot)
    w64 = w.detach().double().requires_grad_()
    (gw_ref,) = torch.autograd.grad(
        _reference(x.double(), w64, None, (p, p), dilation), [w64], cot.double()
    )
    torch.testing.assert_close(gw.double(), gw_ref, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(gw, gw_eager, rtol=1e-5, atol=1e-4)
