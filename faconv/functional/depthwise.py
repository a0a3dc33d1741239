"""Depthwise 2-d convolution with a faster CPU backward for dilated kernels.

oneDNN's backward of a *dilated* depthwise convolution on CPU costs about 30 times its forward
(6.3 ms against 0.2 ms for 4 x 16 x 64 x 128, dilation 2 or 4, 2 threads), where the undilated
one costs about 3 times. :func:`depthwise_conv2d` keeps ``F.conv2d``'s forward and computes
the backward from cheap pieces: the input gradient is the forward convolution of the output
gradient with the flipped kernel (0.2 ms), the weight gradient one reduction per kernel tap
over the channels-last tensors (1.7 ms), or for float32 one pass over the rows in the C kernel
of :mod:`faconv.functional.native` (about 0.3 ms). Elsewhere (undilated, not on CPU, under autocast) it
is ``F.conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from faconv.functional import native
from faconv.functional.fused_lstm import autocast_active

__all__ = ["depthwise_conv2d"]


def _weight_grad_native(
    xp: torch.Tensor, g: torch.Tensor, kh: int, kw: int, d: int
) -> torch.Tensor:
    """The depthwise weight gradient ``(C, k_h, k_w)`` from the padded channels-last input
    ``xp (B, H_p, W_p, C)`` and gradient ``g (B, H_o, W_o, C)``, both contiguous float32."""
    b, hp, wp, c = xp.shape
    gw = xp.new_zeros(c, kh, kw)
    native.library().faconv_depthwise_weight_grad(
        b, hp, wp, c, g.shape[1], g.shape[2], kh, kw, d, xp.data_ptr(), g.data_ptr(),
        gw.data_ptr(), native.threads()
    )  # fmt: skip
    return gw


class _DilatedDepthwiseCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.dilation, ctx.has_bias = padding, dilation, bias is not None
        return F.conv2d(x, weight, bias, padding=padding, dilation=dilation, groups=x.shape[1])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        (ph, pw), d = ctx.padding, ctx.dilation
        channels, _, kh, kw = weight.shape
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            # the transposed convolution, as a forward one: flipped kernel, complementary pad
            pad = (d * (kh - 1) - ph, d * (kw - 1) - pw)
            gx = F.conv2d(grad, weight.flip(-2, -1), None, padding=pad, dilation=d, groups=channels)
        g = grad.permute(0, 2, 3, 1)  # (B, H_out, W_out, C): C innermost in channels-last
        if ctx.needs_input_grad[1]:
            xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, pw, pw, ph, ph))
            h, w = g.shape[1], g.shape[2]
            if x.dtype == grad.dtype == torch.float32 and native.available():
                gw = _weight_grad_native(xp.contiguous(), g.contiguous(), kh, kw, d)
            else:
                gw = weight.new_empty(channels, kh, kw)
                for i in range(kh):
                    for j in range(kw):
                        tap = xp[:, i * d : i * d + h, j * d : j * d + w]
                        gw[:, i, j] = (tap * g).sum((0, 1, 2))
            gw = gw.unsqueeze(1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g.sum((0, 1, 2))
        return gx, gw, gb, None, None


def depthwise_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: tuple[int, int],
    dilation: int,
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=padding, dilation=dilation, groups=C)``, with the
    faster backward above for dilated kernels on CPU (same values to float round-off).

    Shapes:
        - x: ``(B, C, H, W)`` (any memory format; channels-last is fastest);
          weight: ``(C, 1, k_h, k_w)``; bias: ``(C,)`` or ``None``.
        - output: ``(B, C, H + 2 p_h - d (k_h - 1), W + 2 p_w - d (k_w - 1))``.
    """
    padding = (int(padding[0]), int(padding[1]))
    fast = dilation > 1 and x.device.type == "cpu" and torch.is_grad_enabled()
    if fast and not autocast_active("cpu"):  # under autocast the plain op casts its inputs
        return _DilatedDepthwiseCPU.apply(x, weight, bias, padding, int(dilation))
    return F.conv2d(x, weight, bias, padding=padding, dilation=dilation, groups=x.shape[1])
