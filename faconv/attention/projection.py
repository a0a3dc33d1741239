"""``HeadProjection``: the pre-norm query/key/value and output projections that every attention
block shares, whatever the geometry decides about who attends to whom."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["HeadProjection"]


class HeadProjection(nn.Module):
    """Pre-norm multi-head projections: ``LN`` then one fused ``C → 3·n·d`` linear map for the
    queries, keys and values, and a ``n·d → C`` output map.

    .. math:: [q \\,\\|\\, k \\,\\|\\, v] = W_{qkv}\\,\\mathrm{LN}(x),\\qquad
              \\mathrm{out} = W_o\\,[o_1 \\,\\|\\, \\dots \\,\\|\\, o_n]

    Args:
        channels (int): ``C``.
        num_heads (int): ``n``.
        head_dim (int): ``d``.
        qkv_bias (bool): bias in the query/key/value map.
        out_bias (bool): bias in the output map. Default: ``True``.

    Shapes:
        - :meth:`qkv_heads`: ``(..., C) -> 3 × (..., n, d)``.
        - :meth:`merge`: ``(..., n·d) -> (..., C)`` (heads concatenated).
    """

    def __init__(
        self, channels: int, num_heads: int, head_dim: int, qkv_bias: bool, out_bias: bool = True
    ) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        inner = num_heads * head_dim
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * inner, bias=qkv_bias)
        self.out = nn.Linear(inner, channels, bias=out_bias)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised queries, keys and values, split into heads."""
        qkv = self.qkv(self.norm(x)).unflatten(-1, (3, self.num_heads, self.head_dim))
        q, k, v = qkv.unbind(-3)
        return q, k, v

    def merge(self, heads: torch.Tensor) -> torch.Tensor:
        """The output map applied to the heads' outputs, concatenated."""
        return self.out(heads)
