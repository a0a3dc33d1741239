"""``Regridder``: a precomputed sparse interpolation operator between two point sets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from faconv.errors import InputError

__all__ = ["Regridder", "masked_apply"]


def masked_apply(op, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply a linear interpolation ``op`` (rows summing to 1) to ``x`` where ``mask`` is 1, so
    missing values (e.g. SST over land) never leak in: each stencil is renormalised over its
    valid taps, and an output point is valid when most of its stencil was (weight >= 0.5).
    Computed in float64; returns ``(values, mask)`` in the dtypes of ``x`` and ``mask``."""
    w = op(mask.double())
    out = torch.where(w > 0, op((x * mask).double()) / w.clamp_min(1e-6), 0.0)
    return out.to(x.dtype), (w >= 0.5).to(mask.dtype)


class Regridder(nn.Module):
    """Sparse linear map ``y_i = Σ_k w_{ik} x_{idx_{ik}}`` with a fixed number of taps per
    output point (ELL layout), applied to the point dimensions of ``(..., *P_in, C)``.

    Every row of weights sums to 1, so constant fields are reproduced exactly. Weights and
    indices are buffers: ``.to(device)`` moves them, and ``state_dict`` saves them.

    Args:
        index: ``(P_out, K)`` input point of each tap (flat index into ``P_in``).
        weight: ``(P_out, K)`` tap weights, rows summing to 1.
        in_shape, out_shape: point shapes, e.g. ``(H, W)`` and ``(N,)``.
        covered: optional ``(P_out,)`` bool, False where the output point lies outside the
            source domain (its value is extrapolated from the nearest edge).

    Shapes:
        - input: ``(..., *in_shape, C)``.
        - output: ``(..., *out_shape, C)``.
    """

    def __init__(
        self,
        index: torch.Tensor,
        weight: torch.Tensor,
        in_shape: Sequence[int],
        out_shape: Sequence[int],
        covered: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.register_buffer("index", index.long())
        self.register_buffer("weight", weight.double())
        n_out = self.index.shape[0]
        self.register_buffer(
            "covered", torch.ones(n_out, dtype=torch.bool) if covered is None else covered.bool()
        )

    @property
    def num_in(self) -> int:
        n = 1
        for s in self.in_shape:
            n *= s
        return n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = len(self.in_shape)
        if x.dim() < p + 1 or tuple(x.shape[-p - 1 : -1]) != self.in_shape:
            raise InputError(
                f"regridder expects (..., {', '.join(map(str, self.in_shape))}, C) input, got "
                f"shape {tuple(x.shape)}"
            )
        flat = x.reshape(*x.shape[: -p - 1], self.num_in, x.shape[-1])
        w = self.weight.to(x.dtype)
        y = (flat[..., self.index, :] * w.unsqueeze(-1)).sum(-2)  # (..., P_out, C)
        return y.reshape(*x.shape[: -p - 1], *self.out_shape, x.shape[-1])

    def masked(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Regrid ``x`` where ``mask`` is 1 (see :func:`masked_apply`).

        Shapes:
            - x, mask: ``(..., *in_shape, C)``; output: ``(values, mask)``, each
              ``(..., *out_shape, C)``.
        """
        return masked_apply(self, x, mask)

    def to_sparse(self) -> torch.Tensor:
        """The operator as a ``(P_out, P_in)`` sparse COO matrix."""
        rows = torch.arange(self.index.shape[0], device=self.index.device)
        rows = rows.unsqueeze(1).expand_as(self.index)
        return torch.sparse_coo_tensor(
            torch.stack([rows.reshape(-1), self.index.reshape(-1)]),
            self.weight.reshape(-1),
            (self.index.shape[0], self.num_in),
            check_invariants=True,
        ).coalesce()

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, out_shape={self.out_shape}, taps={self.index.shape[1]}"
