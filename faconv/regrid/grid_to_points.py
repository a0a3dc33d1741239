"""Bilinear interpolation from a lat-lon grid to arbitrary points (mesh nodes)."""

from __future__ import annotations

import torch

from faconv.domains.grid import wraps_in_longitude
from faconv.errors import DomainError
from faconv.regrid.base import Regridder

__all__ = ["grid_to_points"]


def _axis(coord: torch.Tensor, name: str) -> torch.Tensor:
    c = torch.as_tensor(coord, dtype=torch.float64)
    if c.dim() != 1 or c.numel() < 2 or not bool(torch.isfinite(c).all()):
        raise DomainError(f"grid {name} must be a finite 1-D coordinate with >= 2 values")
    return c


def grid_to_points(lat, lon, point_lat, point_lon) -> Regridder:
    """Bilinear regridder from an ``H × W`` lat-lon grid to ``N`` points.

    Latitudes may be ascending or descending; longitudes any convention (0..360 or
    -180..180), strictly increasing modulo 360. A grid whose longitudes cover the full circle
    wraps around; points beyond the outermost rows (poles) or outside a regional grid take the
    nearest edge value and are flagged in ``covered``.

    Shapes:
        - lat: ``(H,)``, lon: ``(W,)``, point_lat / point_lon: ``(N,)`` degrees.
        - result applied to ``(..., H, W, C)`` gives ``(..., N, C)``.
    """
    lat, lon = _axis(lat, "latitudes"), _axis(lon, "longitudes")
    plat = torch.as_tensor(point_lat, dtype=torch.float64)
    plon = torch.as_tensor(point_lon, dtype=torch.float64)
    H, W = lat.numel(), lon.numel()
    # latitude: work on an ascending copy, map back to the original row order
    desc = bool(lat[0] > lat[-1])
    lat_a = lat.flip(0) if desc else lat
    if not bool((lat_a[1:] > lat_a[:-1]).all()):
        raise DomainError("grid latitudes must be strictly monotonic")
    i1 = torch.searchsorted(lat_a, plat).clamp(1, H - 1)
    i0 = i1 - 1
    fy = ((plat - lat_a[i0]) / (lat_a[i1] - lat_a[i0])).clamp(0, 1)
    cov_lat = (plat >= lat_a[0] - 1e-9) & (plat <= lat_a[-1] + 1e-9)
    if desc:
        i0, i1 = H - 1 - i0, H - 1 - i1
    # longitude: unwrap relative to the first column
    rel = torch.remainder(lon - lon[0], 360.0)
    if not bool((rel[1:] > rel[:-1]).all()):
        raise DomainError("grid longitudes must be strictly increasing (modulo 360)")
    periodic = wraps_in_longitude(lon.tolist())
    prel = torch.remainder(plon - lon[0], 360.0)
    ext = torch.cat([rel, rel.new_tensor([360.0])]) if periodic else rel
    j1 = torch.searchsorted(ext, prel).clamp(1, ext.numel() - 1)
    j0 = j1 - 1
    fx = ((prel - ext[j0]) / (ext[j1] - ext[j0])).clamp(0, 1)
    cov_lon = torch.ones_like(cov_lat) if periodic else prel <= rel[-1] + 1e-9
    j1 = j1 % W
    index = torch.stack([i0 * W + j0, i0 * W + j1, i1 * W + j0, i1 * W + j1], 1)
    weight = torch.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], 1)
    return Regridder(index, weight, (H, W), (plat.numel(),), cov_lat & cov_lon)
