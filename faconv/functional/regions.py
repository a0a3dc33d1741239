"""Coarse regions of a domain: a partition of the points (for location-aware pooling) and a
smooth interpolation from regions back to points (for decoders), written once for grids and
graphs. A domain supplies only its point and centre coordinates (see ``Domain.regions``).

Legend: N points (``prod(P)``), M regions, k neighbouring regions per point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

__all__ = ["Regions", "farthest_point_sampling", "make_regions", "region_mean", "region_to_points"]


class Regions(NamedTuple):
    """A partition of ``N`` points into ``M`` regions and the region → point interpolation.

    Shapes:
        - assignment: ``(N,)`` int64 region of every point (its nearest centre).
        - index: ``(N, k)`` int64 the ``k`` nearest regions of every point.
        - weight: ``(N, k)`` float64 interpolation weights (rows sum to 1).
    """

    num_regions: int
    assignment: torch.Tensor
    index: torch.Tensor
    weight: torch.Tensor


def make_regions(
    num_points: int,
    num_regions: int,
    sq_distance: Callable[[slice], torch.Tensor],
    neighbours: int = 4,
    width: float = 0.6,
    chunk: int = 1 << 15,
) -> Regions:
    """Nearest-centre partition and Gaussian interpolation from the ``k`` nearest centres.

    Args:
        sq_distance: ``sq_distance(points)`` gives the squared distances ``(n, M)`` from a
            slice of the points to every centre, in units of the spacing between neighbouring
            centres (so one kernel width suits every domain).
        neighbours (int): ``k``. Default: ``4``.
        width (float): Gaussian kernel width in centre spacings. Default: ``0.6``.
    """
    k = min(neighbours, num_regions)
    assign, index, weight = [], [], []
    for start in range(0, num_points, chunk):
        d2 = sq_distance(slice(start, min(start + chunk, num_points)))
        near, idx = torch.topk(d2, k, dim=1, largest=False)
        w = torch.exp(-0.5 * (near - near[:, :1]) / width**2)  # shifted: no underflow far away
        assign.append(idx[:, 0])
        index.append(idx)
        weight.append(w / w.sum(1, keepdim=True))
    return Regions(num_regions, torch.cat(assign), torch.cat(index), torch.cat(weight))


def farthest_point_sampling(pos: torch.Tensor, num: int) -> torch.Tensor:
    """Indices of ``num`` well-spread points of ``pos (N, D)``, deterministic (starts at 0)."""
    n = pos.shape[0]
    chosen = torch.zeros(num, dtype=torch.long)
    dist = torch.full((n,), float("inf"), dtype=pos.dtype)
    for i in range(1, num):
        dist = torch.minimum(dist, ((pos - pos[chosen[i - 1]]) ** 2).sum(1))
        chosen[i] = torch.argmax(dist)
    return chosen


def region_mean(x: torch.Tensor, regions: Regions, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean of ``x`` over each region.

    Shapes:
        - x: ``(B, N, C)``; weights: ``(N,)`` point (area) weights; output: ``(B, M, C)``.
    """
    assign = regions.assignment.to(x.device)
    w = weights.to(x.dtype).unsqueeze(-1)
    num = x.new_zeros(x.shape[0], regions.num_regions, x.shape[-1])
    num.index_add_(1, assign, x * w)
    den = x.new_zeros(regions.num_regions, 1).index_add_(0, assign, w)
    return num / den.clamp_min(torch.finfo(x.dtype).tiny)


def region_to_points(f: torch.Tensor, regions: Regions) -> torch.Tensor:
    """Smooth interpolation of region values to the points.

    Shapes:
        - f: ``(B, M, C)``; output: ``(B, N, C)``.
    """
    idx = regions.index.to(f.device)
    w = regions.weight.to(device=f.device, dtype=f.dtype)
    out = f[:, idx[:, 0]] * w[:, 0, None]
    for j in range(1, idx.shape[1]):
        out = out + f[:, idx[:, j]] * w[:, j, None]
    return out
