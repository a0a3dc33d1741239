"""Regridding between lat-lon grids and meshes, as reusable precomputed sparse operators."""

from __future__ import annotations

import torch

from faconv.regrid.base import Regridder
from faconv.regrid.grid_to_points import grid_to_points
from faconv.regrid.mesh_to_grid import mesh_to_points

__all__ = ["Regridder", "grid_to_mesh", "grid_to_points", "mesh_to_grid", "mesh_to_points"]


def grid_to_mesh(lat, lon, mesh) -> Regridder:
    """Bilinear regridder from an ``(H, W)`` lat-lon grid to the nodes of ``mesh``.

    Example:
        >>> import torch, faconv
        >>> mesh = faconv.icosahedral_mesh(3)
        >>> lat, lon = torch.linspace(90, -90, 91), torch.arange(0, 360, 2.0)
        >>> r = faconv.regrid.grid_to_mesh(lat, lon, mesh)
        >>> r(torch.ones(2, 91, 180, 4)).shape
        torch.Size([2, 642, 4])
    """
    return grid_to_points(lat, lon, mesh.lat, mesh.lon)


def mesh_to_grid(mesh, lat, lon) -> Regridder:
    """Barycentric regridder from the nodes of ``mesh`` to the ``(H, W)`` grid ``lat × lon``."""
    lat = torch.as_tensor(lat, dtype=torch.float64)
    lon = torch.as_tensor(lon, dtype=torch.float64)
    glat, glon = torch.meshgrid(lat, lon, indexing="ij")
    r = mesh_to_points(mesh, glat.reshape(-1), glon.reshape(-1))
    return Regridder(r.index, r.weight, r.in_shape, (lat.numel(), lon.numel()), r.covered)
