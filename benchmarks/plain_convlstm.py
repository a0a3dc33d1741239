"""The ConvLSTM most repositories hand-write, as a speed reference (not part of the library).

One convolution per step over ``cat[x_t, h]`` to ``4F`` channels, then the gates; NCHW
throughout. No Keras semantics, no checks: the fastest dense baseline a user would copy.
"""

from __future__ import annotations

import torch
from torch import nn


class PlainConvLSTMCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(
            in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2
        )

    def forward(self, x, state):
        h, c = state
        i, f, g, o = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class PlainConvLSTM(nn.Module):
    """``(B, T, C, H, W) -> (B, T, F, H, W)``: the cell unrolled over time."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.cell = PlainConvLSTMCell(in_channels, hidden, kernel_size)

    def forward(self, x):
        B, T, _, H, W = x.shape
        h = x.new_zeros(B, self.cell.hidden, H, W)
        c = torch.zeros_like(h)
        outs = []
        for t in range(T):
            h, c = self.cell(x[:, t], (h, c))
            outs.append(h)
        return torch.stack(outs, dim=1)
