"""The subspace head: one compact embedding per timestep from the hidden state."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faconv.checks import check_choice, check_positive_int
from faconv.domains.base import Domain
from faconv.heads.base import HEADS, Head

__all__ = ["SubspaceHead"]

_POOL = ("mean", "mean_std")


@HEADS.register("subspace")
class SubspaceHead(Head):
    """Per-timestep embedding as ``M`` normalised subspace projections of globally pooled
    features (the paper-literal head).

    .. math::
        p_t = [\\mathrm{pool}(H_t), \\mathrm{std}(H_t)],\\qquad
        z_t = \\big\\Vert_{m=1}^{M} \\mathrm{LN}(W_m p_t + b_m)

    ``pool`` is the domain's area-weighted mean (cos latitude on grids, node areas on meshes),
    optionally masked, and ``std`` the area-weighted standard deviation (``pool="mean_std"``),
    so the head is the same on every geometry and invariant to longitude rolls and node
    relabelling. Each subspace is layer-normalised on its own, so no subspace dominates the
    distances that clustering sees.

    Pooling over the whole domain keeps *how much* of each feature there is, not *where* it
    is: a pattern and its mirror image give nearly the same embedding. For weather regimes use
    the location-aware :class:`~faconv.heads.RegionalHead` (the default of the
    representation model); this head stays for the paper-literal composition and ablations.

    Args:
        in_channels (int): ``C_hid``.
        num_subspaces (int): ``M``. Default: ``4``.
        subspace_dim (int): width of one subspace. Default: ``16``.
        pool (str): ``"mean"`` or ``"mean_std"``. Default: ``"mean_std"``.

    Shapes:
        - h: ``(B, T, *P, C_hid)``; output: ``(B, T, M * subspace_dim)``.
    """

    def __init__(
        self,
        in_channels: int,
        num_subspaces: int = 4,
        subspace_dim: int = 16,
        pool: str = "mean_std",
    ) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.num_subspaces = check_positive_int(num_subspaces, "num_subspaces", owner)
        self.subspace_dim = check_positive_int(subspace_dim, "subspace_dim", owner)
        self.pool = check_choice(pool, _POOL, "pool", owner)
        n_in = in_channels * (2 if pool == "mean_std" else 1)
        self.proj = nn.Linear(n_in, num_subspaces * subspace_dim)

    @property
    def out_dim(self) -> int:
        return self.num_subspaces * self.subspace_dim

    def forward(self, h: torch.Tensor, domain: Domain) -> torch.Tensor:
        B, T = h.shape[:2]
        flat = h.reshape(B * T, *h.shape[2:])
        mean = domain.pool(flat)
        feats = mean
        if self.pool == "mean_std":
            var = domain.pool((flat - mean.view(B * T, *([1] * (flat.dim() - 2)), -1)) ** 2)
            feats = torch.cat([mean, var.clamp_min(0).add(1e-8).sqrt()], -1)
        z = self.proj(feats).view(B * T, self.num_subspaces, self.subspace_dim)
        z = F.layer_norm(z, (self.subspace_dim,))
        return z.reshape(B, T, self.out_dim)
