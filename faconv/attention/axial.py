"""Axial (row, then column) multi-head self-attention on lat-lon grids."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from faconv.attention.base import ATTENTION, GlobalAttention, resolve_heads
from faconv.domains.base import Domain

__all__ = ["AxialAttention"]


class _AxisAttention(nn.Module):
    """Pre-norm multi-head self-attention along one grid axis (``"w"`` rows, ``"h"`` columns)."""

    def __init__(self, channels: int, num_heads: int, head_dim: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        inner = num_heads * head_dim
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * inner, bias=qkv_bias)
        self.out = nn.Linear(inner, channels)

    def qkv_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (3, B, H, W, n, d)``: normalised queries, keys and values."""
        qkv = self.qkv(self.norm(x))
        return rearrange(qkv, "b h w (three n d) -> three b h w n d", three=3, n=self.num_heads)

    def forward(self, x: torch.Tensor, axis: str) -> torch.Tensor:
        q, k, v = self.qkv_heads(x)
        B = x.shape[0]
        if axis == "w":  # one sequence of length W per row
            q, k, v = (rearrange(t, "b h w n d -> (b h) n w d") for t in (q, k, v))
            o = F.scaled_dot_product_attention(q, k, v)
            o = rearrange(o, "(b h) n w d -> b h w (n d)", b=B)
        else:  # one sequence of length H per column
            q, k, v = (rearrange(t, "b h w n d -> (b w) n h d") for t in (q, k, v))
            o = F.scaled_dot_product_attention(q, k, v)
            o = rearrange(o, "(b w) n h d -> b h w (n d)", b=B)
        return self.out(o)


@ATTENTION.register("axial")
class AxialAttention(GlobalAttention):
    """Axial spatial self-attention: attention along each row, then along each column.

    The teleconnection block of FAConvLSTM (arXiv 2601.10914), applied by the cell every ``K``
    steps. Each axis step is pre-norm multi-head attention; the row step's output feeds the
    column step, and the block returns the total update:

    .. math::
        u_r = \\mathrm{MHSA}_{W}(\\mathrm{LN}(x)),\\quad
        u_c = \\mathrm{MHSA}_{H}(\\mathrm{LN}(x + u_r)),\\quad \\mathrm{out} = u_r + u_c

    Cost ``O(H W (H + W) C)`` instead of ``O((H W)^2 C)`` for full attention. There is no
    positional encoding, so the block is equivariant to longitude rolls (and to any
    permutation of rows or of columns).

    Args:
        channels (int): ``C`` (the hidden width inside a cell).
        num_heads (int): attention heads. Default: ``4``.
        head_dim (int, optional): width of one head. Default: ``channels // num_heads``.
        qkv_bias (bool): bias in the query/key/value projection. Default: ``False``.

    Shapes:
        - input: ``(B, H, W, C)``.
        - output: ``(B, H, W, C)``, the update to add to the input.

    Config:
        ``{"type": "axial", "num_heads": 4}``
    """

    domains = frozenset({"grid"})

    def __init__(
        self,
        channels: int,
        num_heads: int = 4,
        head_dim: int | None = None,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        owner = "axial attention"
        self.channels, self.num_heads, self.head_dim = resolve_heads(
            channels, num_heads, head_dim, owner
        )
        head_dim = self.head_dim
        self.qkv_bias = bool(qkv_bias)
        self.row = _AxisAttention(channels, num_heads, head_dim, qkv_bias)
        self.col = _AxisAttention(channels, num_heads, head_dim, qkv_bias)

    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        u_row = self.row(x, "w")
        u_col = self.col(x + u_row, "h")
        return u_row + u_col
