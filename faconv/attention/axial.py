"""Axial (row, then column) multi-head self-attention on lat-lon grids."""

from __future__ import annotations

import torch
from einops import rearrange

from faconv.attention.base import ATTENTION, GlobalAttention, resolve_heads
from faconv.attention.projection import HeadProjection
from faconv.checks import check_choice
from faconv.domains.base import Domain
from faconv.errors import ConfigError
from faconv.functional.attention import dot_product_attention

__all__ = ["AxialAttention"]


_MODES = ("parallel", "sequential")


def _attend_along(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, axis: str) -> torch.Tensor:
    """Attention of ``(B, H, W, n, d)`` heads along rows (``"w"``) or columns (``"h"``);
    returns ``(B, H, W, n·d)``."""
    B = q.shape[0]
    if axis == "w":  # one sequence of length W per row
        q, k, v = (rearrange(t, "b h w n d -> (b h) n w d") for t in (q, k, v))
        o = dot_product_attention(q, k, v)
        return rearrange(o, "(b h) n w d -> b h w (n d)", b=B)
    q, k, v = (rearrange(t, "b h w n d -> (b w) n h d") for t in (q, k, v))
    o = dot_product_attention(q, k, v)
    return rearrange(o, "(b w) n h d -> b h w (n d)", b=B)


class _AxisAttention(HeadProjection):
    """Pre-norm multi-head self-attention; ``axes`` gives each head's axis (``"w"`` attends
    along rows, ``"h"`` along columns)."""

    def forward(self, x: torch.Tensor, axes: tuple[str, ...]) -> torch.Tensor:
        q, k, v = self.qkv_heads(x)
        if len(set(axes)) == 1:
            return self.merge(_attend_along(q, k, v, axes[0]))
        half = axes.index("h")  # heads [0, half) attend along rows, the rest along columns
        o_row = _attend_along(q[..., :half, :], k[..., :half, :], v[..., :half, :], "w")
        o_col = _attend_along(q[..., half:, :], k[..., half:, :], v[..., half:, :], "h")
        return self.merge(torch.cat((o_row, o_col), dim=-1))


@ATTENTION.register("axial")
class AxialAttention(GlobalAttention):
    """Axial spatial self-attention along grid rows and columns.

    The teleconnection block of FAConvLSTM (arXiv 2601.10914), applied by the cell every ``K``
    steps. Two factorisations of full attention into the two axes:

    * ``"parallel"`` (default, the factorised attention of Child et al. 2019): one pre-norm
      projection; half the heads attend along each row, half along each column, one output
      projection. The lightest form (parameters ``≈ 4 C·n·d``):

      .. math:: \\mathrm{out} = W_o\\,[\\mathrm{MHSA}_W^{1..n/2} \\,\\|\\,
                \\mathrm{MHSA}_H^{n/2+1..n}](\\mathrm{LN}(x))

    * ``"sequential"``: a full row block, then a full column block fed by its output (two
      sets of weights):

      .. math:: u_r = \\mathrm{MHSA}_{W}(\\mathrm{LN}(x)),\\quad
                u_c = \\mathrm{MHSA}_{H}(\\mathrm{LN}(x + u_r)),\\quad \\mathrm{out} = u_r + u_c

    Cost ``O(H W (H + W) C)`` instead of ``O((H W)^2 C)`` for full attention. There is no
    positional encoding, so the block is equivariant to longitude rolls (and to any
    permutation of rows or of columns).

    Args:
        channels (int): ``C`` (the bottleneck or hidden width inside a cell).
        num_heads (int): attention heads (even for ``"parallel"``). Default: ``2`` (one row
            head and one column head).
        head_dim (int, optional): width of one head. Default: ``max(1, channels //
            num_heads)``.
        qkv_bias (bool): bias in the query/key/value projection. Default: ``False``.
        mode (str): ``"parallel"`` or ``"sequential"``. Default: ``"parallel"``.
        out_bias (bool): bias in the output projection(s). Default: ``True``.

    Shapes:
        - input: ``(B, H, W, C)``.
        - output: ``(B, H, W, C)``, the update to add to the input.

    Config:
        ``{"type": "axial", "num_heads": 2, "mode": "parallel"}``
    """

    domains = frozenset({"grid"})

    def __init__(
        self,
        channels: int,
        num_heads: int = 2,
        head_dim: int | None = None,
        qkv_bias: bool = False,
        mode: str = "parallel",
        out_bias: bool = True,
    ) -> None:
        super().__init__()
        owner = self.owner
        self.channels, self.num_heads, self.head_dim = resolve_heads(
            channels, num_heads, head_dim, owner
        )
        self.mode = check_choice(mode, _MODES, "mode", owner)
        if mode == "parallel" and self.num_heads % 2:
            raise ConfigError(
                f"{owner}: mode='parallel' splits the heads between rows and columns, so "
                f"num_heads must be even, got {self.num_heads}"
            )
        self.qkv_bias, self.out_bias = bool(qkv_bias), bool(out_bias)
        args = (channels, self.num_heads, self.head_dim, self.qkv_bias, self.out_bias)
        if mode == "parallel":
            self.block = _AxisAttention(*args)
            half = self.num_heads // 2
            self._axes = ("w",) * half + ("h",) * half
        else:
            self.row = _AxisAttention(*args)
            self.col = _AxisAttention(*args)

    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        if self.mode == "parallel":
            return self.block(x, self._axes)
        u_row = self.row(x, ("w",))
        u_col = self.col(x + u_row, ("h",))
        return u_row + u_col
