"""Padding for grid convolutions: circular along periodic longitude, zeros elsewhere, TF "same"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pad_grid", "same_padding", "wrap_pad_width"]


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow/Keras ``padding="same"``: output ``ceil(size / stride)``, extra pad at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def wrap_pad_width(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Circular padding of the last dim by any amount (even wider than the dim itself)."""
    if left == 0 and right == 0:
        return x
    w = x.shape[-1]
    if left <= w and right <= w:
        return torch.cat([x[..., w - left :], x, x[..., :right]], dim=-1)
    idx = torch.arange(-left, w + right, device=x.device) % w
    return x.index_select(-1, idx)


def pad_grid(
    x: torch.Tensor, pad_h: tuple[int, int], pad_w: tuple[int, int], periodic: bool
) -> torch.Tensor:
    """Pad an NCHW tensor: zeros along H; circular along W if ``periodic``, zeros otherwise.

    Shapes:
        - x: ``(B, C, H, W)``.
        - output: ``(B, C, H + sum(pad_h), W + sum(pad_w))``.
    """
    if periodic:
        x = wrap_pad_width(x, *pad_w)
        return F.pad(x, (0, 0, *pad_h)) if any(pad_h) else x
    if any(pad_h) or any(pad_w):
        return F.pad(x, (*pad_w, *pad_h))
    return x
