"""``MultiBranchMixer``: the branch / combine / recalibrate skeleton shared by the multi-scale
mixers of every geometry (``dilated_dw`` on grids, ``graph_dw`` on graphs)."""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import torch
from torch import nn

from faconv.checks import check_choice, check_positive_int
from faconv.domains.base import Domain
from faconv.mixers.base import MIXERS, SpatialMixer

__all__ = ["MultiBranchMixer"]

_COMBINE = ("sum", "concat")


class MultiBranchMixer(SpatialMixer):
    """``J`` spatial branches, combined and recalibrated:

    .. math::
        S = \\sum_{j=1}^{J} B_j(U) \\quad\\text{("sum")}\\qquad
        S = W_f\\,[B_1(U) \\,\\|\\, \\dots \\,\\|\\, B_J(U)] \\quad\\text{("concat")},\\qquad
        \\hat S = \\mathrm{SE}(S)

    Each branch ``B_j`` carries a per-channel bias ``b_j``. This base owns the biases, the
    ``J·C → C`` fuse, the recalibration block, their initialisation and the combination;
    a subclass creates its branch weights, initialises them in :meth:`reset_branches` and
    computes the branches in :meth:`branches` in its geometry's layout.

    Args:
        channels (int): ``C``.
        num_branches (int): ``J``.
        kernel_size (int): the stencil each branch stands for; with ``J`` it sets the
            initial scale ``1/\\sqrt{k^2 J}`` (a depthwise ``k × k`` conv's default, so the
            summed branches keep the variance of one conv).
        combine (str): ``"sum"`` or ``"concat"``.
        se (spec or None): recalibration block built with ``channels``; ``None`` removes it.
        bias (bool): per-branch bias.

    Shapes:
        - input: ``(B, *P, C)``.
        - output: ``(B, *P, C)``.
    """

    def __init__(
        self,
        channels: int,
        num_branches: int,
        kernel_size: int,
        combine: str,
        se: Any,
        bias: bool,
    ) -> None:
        super().__init__()
        owner = self.owner
        self.channels = check_positive_int(channels, "channels", owner)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", owner)
        self.combine = check_choice(combine, _COMBINE, "combine", owner)
        self.bias = bool(bias)
        self.num_branches = check_positive_int(num_branches, "the number of branches", owner)
        self.branch_bias = nn.Parameter(torch.zeros(num_branches, channels)) if bias else None
        fused = combine == "concat"
        self.fuse = nn.Linear(num_branches * channels, channels) if fused else None
        self.se = None if se is None else MIXERS.build(se, channels=channels)

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.kernel_size**2 * self.num_branches)
        self.reset_branches(bound)
        if self.branch_bias is not None:
            nn.init.uniform_(self.branch_bias, -bound, bound)

    @abstractmethod
    def reset_branches(self, bound: float) -> None:
        """Initialise the branch weights, each tap ``~ U(-bound, bound)``."""

    def branch_biases(self) -> list[torch.Tensor | None]:
        """The bias each branch adds; when the branches are summed, their total goes to the
        first branch (one addition instead of ``J``)."""
        n = self.num_branches
        if self.branch_bias is None:
            return [None] * n
        if self.fuse is None:
            return [self.branch_bias.sum(0)] + [None] * (n - 1)
        return list(self.branch_bias)

    @abstractmethod
    def branches(
        self, x: torch.Tensor, domain: Domain, biases: list[torch.Tensor | None], summed: bool
    ) -> list[torch.Tensor]:
        """The branch outputs ``(B, *P, C)``, branch ``j`` with ``biases[j]`` added; with
        ``summed`` a one-element list holding their sum (which the subclass may accumulate in
        place)."""

    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        summed = self.fuse is None
        outs = self.branches(x, domain, self.branch_biases(), summed)
        y = outs[0] if summed else self.fuse(torch.cat(outs, dim=-1))
        return y if self.se is None else self.se(y, domain)
