"""Shared multi-scale dilated depthwise mixer for lat-lon grids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from faconv.checks import check_choice, check_int_list
from faconv.domains.base import Domain
from faconv.errors import ConfigError
from faconv.functional.depthwise import depthwise_conv2d
from faconv.functional.padding import pad_grid, wrap_pad_width
from faconv.mixers.base import MIXERS
from faconv.mixers.multibranch import MultiBranchMixer

__all__ = ["MultiScaleDilatedDWMixer"]

# padding mode -> "pad circularly along longitude?" given the domain's periodicity
_PADDING = {
    "auto": lambda periodic: periodic,
    "zeros": lambda periodic: False,
    "circular": lambda periodic: True,
}


@MIXERS.register("dilated_dw", aliases=("multiscale_dw",))
class MultiScaleDilatedDWMixer(MultiBranchMixer):
    """Multi-scale dilated depthwise mixing followed by squeeze-and-excitation.

    The shared spatial mixer of FAConvLSTM (arXiv 2601.10914): ``J`` depthwise ``k × k``
    branches with dilations ``d_1..d_J`` act on the bottleneck, then their outputs are combined
    and recalibrated.

    .. math::
        S = \\sum_{j=1}^{J} \\mathrm{DW}_{k, d_j}(U) \\quad\\text{("sum")}\\qquad
        S = W_f\\,[\\mathrm{DW}_{k,d_1}(U) \\,\\|\\, \\dots \\,\\|\\, \\mathrm{DW}_{k,d_J}(U)]
        \\quad\\text{("concat")},\\qquad \\hat S = \\mathrm{SE}(S)

    Each branch pads by ``d_j (k-1) / 2`` so the grid size is kept: zeros along latitude, and
    along longitude circular on periodic (global) grids or zeros on regional ones.

    Args:
        channels (int): ``C`` (the bottleneck width ``C_b`` inside a cell).
        kernel_size (int): odd kernel size ``k``. Default: ``3``.
        dilations (sequence of int): one branch per dilation. Default: ``(1, 2, 4)``.
        combine (str): ``"sum"`` or ``"concat"`` (concatenate, then a ``J·C → C`` linear
            fuse). Default: ``"sum"``.
        padding (str): ``"auto"`` (circular in longitude iff ``domain.periodic``), ``"zeros"``
            or ``"circular"``. Default: ``"auto"``.
        se (spec or None): the recalibration block, built with ``channels``; ``None`` removes
            it. Default: ``"squeeze_excite"``.
        bias (bool): per-branch depthwise bias. Default: ``True``.

    Shapes:
        - input: ``(B, H, W, C)``.
        - output: ``(B, H, W, C)``.

    Config:
        ``{"type": "dilated_dw", "kernel_size": 3, "dilations": [1, 2, 4],
        "se": {"type": "squeeze_excite", "rd_ratio": 4}}``

    Example:
        >>> import torch
        >>> from faconv import GridDomain
        >>> mixer = MultiScaleDilatedDWMixer(16)
        >>> mixer(torch.randn(2, 12, 24, 16), GridDomain(12, 24, periodic=True)).shape
        torch.Size([2, 12, 24, 16])
    """

    domains = frozenset({"grid"})

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        dilations: Sequence[int] = (1, 2, 4),
        combine: str = "sum",
        padding: str = "auto",
        se: Any = "squeeze_excite",
        bias: bool = True,
    ) -> None:
        owner = self.owner
        dilations = check_int_list(dilations, "dilations", owner, minimum=1)
        super().__init__(channels, len(dilations), kernel_size, combine, se, bias)
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"{owner}: kernel_size must be odd (centred), got {kernel_size}")
        self.dilations = dilations
        self.padding = check_choice(padding, _PADDING, "padding", owner)
        k = self.kernel_size
        # weight[j] is the depthwise kernel of branch j (torch layout: C, 1, k, k).
        self.weight = nn.Parameter(torch.empty(len(dilations), self.channels, 1, k, k))
        self.reset_parameters()

    def reset_branches(self, bound: float) -> None:
        nn.init.uniform_(self.weight, -bound, bound)

    def branch(self, x_nchw: torch.Tensor, j: int, periodic: bool) -> torch.Tensor:
        """Branch ``j`` on an NCHW tensor: padded depthwise conv with dilation ``d_j`` (the
        plain per-branch form; ``forward`` computes the same thing with one padding)."""
        d = self.dilations[j]
        p = d * (self.kernel_size - 1) // 2
        xp = pad_grid(x_nchw, (p, p), (p, p), periodic)
        b = None if self.branch_bias is None else self.branch_bias[j]
        return F.conv2d(xp, self.weight[j], b, dilation=d, groups=self.channels)

    def branches(
        self, x: torch.Tensor, domain: Domain, biases: list, summed: bool
    ) -> list[torch.Tensor]:
        periodic = _PADDING[self.padding](bool(getattr(domain, "periodic", False)))
        # (B, C, H, W) view in channels-last memory, which oneDNN convolves in place; zero
        # padding is the conv's own, circular longitude padding is done once for all branches.
        xc = x.permute(0, 3, 1, 2)
        pads = [d * (self.kernel_size - 1) // 2 for d in self.dilations]
        wrap = max(pads) if periodic else 0
        if wrap:
            xc = wrap_pad_width(xc, wrap, wrap)
        outs = []
        for d, p, b, w in zip(self.dilations, pads, biases, self.weight):
            xj = xc[..., wrap - p : xc.shape[-1] - wrap + p] if wrap else xc
            yj = depthwise_conv2d(xj, w, b, (p, 0 if wrap else p), d)
            if summed and outs:
                outs[0].add_(yj)  # in place: no conv's backward needs its output
            else:
                outs.append(yj)
        return [y.permute(0, 2, 3, 1) for y in outs]
