"""Multi-head self-attention over a sparse long-range neighbourhood of a graph."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch_geometric.utils import scatter, softmax

from faconv.attention.base import ATTENTION, GlobalAttention, resolve_heads
from faconv.attention.projection import HeadProjection
from faconv.checks import check_int_list
from faconv.domains.base import Domain
from faconv.errors import DomainError

__all__ = ["SparseGraphAttention"]


@ATTENTION.register("graph_sparse", aliases=("sparse_graph",))
class SparseGraphAttention(GlobalAttention):
    """Pre-norm multi-head attention where each node attends to itself and to the senders of
    its incoming edges of the chosen scales (e.g. the coarse multimesh levels, which reach
    across the globe in a few hops) -- the graph counterpart of axial attention.

    .. math::
        \\alpha_{e} = \\mathrm{softmax}_{e: s \\to i}\\left(\\frac{q_i \\cdot k_s}{\\sqrt d}\\right),
        \\qquad u_i = W_o \\sum_{e: s \\to i} \\alpha_e v_s

    Logits and weights live on the ``E + N`` edges (segment softmax over receivers with PyG's
    pure-torch ``softmax`` / ``scatter``); no ``N × N`` matrix is ever formed. No positional
    terms, so the block is equivariant to node relabelling.

    Args:
        channels (int): ``C``.
        num_heads (int): heads. Default: ``4``.
        head_dim (int, optional): width of one head. Default: ``max(1, channels // num_heads)``.
        qkv_bias (bool): bias in the query/key/value projection. Default: ``False``.
        scales (sequence of int, optional): edge scales to attend over; ``None`` uses every
            edge of the graph. Default: ``None``.

    Shapes:
        - input: ``(B, N, C)``.
        - output: ``(B, N, C)``, the update to add to the input.

    Config:
        ``{"type": "graph_sparse", "num_heads": 4, "scales": [1, 2, 3]}``
    """

    domains = frozenset({"graph"})

    def __init__(
        self,
        channels: int,
        num_heads: int = 4,
        head_dim: int | None = None,
        qkv_bias: bool = False,
        scales: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        owner = self.owner
        self.channels, self.num_heads, self.head_dim = resolve_heads(
            channels, num_heads, head_dim, owner
        )
        self.qkv_bias = bool(qkv_bias)
        if scales is not None:
            scales = check_int_list(scales, "scales (or None)", owner, minimum=0)
        self.scales = scales
        self.proj = HeadProjection(self.channels, self.num_heads, self.head_dim, self.qkv_bias)

    def neighbourhood(self, domain) -> tuple[torch.Tensor, torch.Tensor]:
        """(senders, receivers) attended over: the chosen edges plus one self-loop per node."""

        def compute():
            keep = torch.ones_like(domain.senders, dtype=torch.bool)
            if self.scales is not None:
                missing = sorted(set(self.scales) - set(domain.scales))
                if missing:
                    raise DomainError(
                        f"graph_sparse attention uses edge scales {missing} that the graph lacks "
                        f"(it has {domain.scales})"
                    )
                keep = torch.isin(domain.edge_scale, torch.tensor(self.scales))
            loops = torch.arange(domain.num_nodes)
            return (
                torch.cat([domain.senders[keep], loops]),
                torch.cat([domain.receivers[keep], loops]),
            )

        return domain.cached(("graph_sparse", self.scales), compute)

    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        snd, rcv = (t.to(x.device) for t in self.neighbourhood(domain))
        q, k, v = self.proj.qkv_heads(x)
        logits = (q[:, rcv] * k[:, snd]).sum(-1) / math.sqrt(self.head_dim)  # (B, E', n)
        alpha = softmax(logits, rcv, num_nodes=x.shape[1], dim=1)
        agg = scatter(
            alpha.unsqueeze(-1) * v[:, snd], rcv, dim=1, dim_size=x.shape[1], reduce="sum"
        )
        return self.proj.merge(agg.flatten(-2))
