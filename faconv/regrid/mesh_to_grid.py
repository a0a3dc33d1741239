"""Spherical barycentric interpolation from an icosahedral mesh to lat-lon points."""

from __future__ import annotations

import torch

from faconv.regrid.base import Regridder

__all__ = ["mesh_to_points"]


def _unit(lat, lon) -> torch.Tensor:
    la, lo = torch.deg2rad(lat.double()), torch.deg2rad(lon.double())
    return torch.stack([la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()], -1)


def mesh_to_points(mesh, point_lat, point_lon, chunk: int = 1024) -> Regridder:
    """Regridder from mesh nodes to points: each point takes the barycentric weights of the
    mesh triangle that contains it (gnomonic projection onto the triangle's plane), so the
    interpolant is continuous and exact for constants.

    The containing triangle is searched among the triangles around the point's 3 nearest
    nodes; a point that falls in none of them (not seen on refined icosahedra) uses the
    candidate with the largest smallest weight, clipped to non-negative weights.

    Shapes:
        - point_lat, point_lon: ``(P,)`` degrees; applied to ``(..., N, C)`` gives
          ``(..., P, C)``.
    """
    v, faces = mesh.vertices.double(), mesh.faces
    V = v.shape[0]
    # faces around each node, padded with -1 (at most 6 on a refined icosahedron)
    order = torch.argsort(faces.reshape(-1), stable=True)
    node_of = faces.reshape(-1)[order]
    face_of = order // 3
    counts = torch.bincount(node_of, minlength=V)
    width = int(counts.max())
    slot = torch.arange(order.numel()) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    around = torch.full((V, width), -1, dtype=torch.long)
    around[node_of, slot] = face_of
    inv = torch.linalg.inv(v[faces].transpose(1, 2))  # (F, 3, 3): columns a, b, c
    p = _unit(torch.as_tensor(point_lat), torch.as_tensor(point_lon))
    index, weight = [], []
    for start in range(0, p.shape[0], chunk):
        q = p[start : start + chunk]  # (P, 3)
        near = (q @ v.T).topk(3, dim=1).indices  # (P, 3)
        cand = around[near].reshape(q.shape[0], -1)  # (P, 3 * width)
        valid = cand >= 0
        lam = (inv[cand.clamp_min(0)] @ q.unsqueeze(1).unsqueeze(-1)).squeeze(-1)  # (P, K, 3)
        score = lam.min(-1).values.masked_fill(~valid, -torch.inf)
        best = score.argmax(1)
        rows = torch.arange(q.shape[0])
        f = cand[rows, best]
        w = lam[rows, best].clamp_min(0)
        index.append(faces[f])
        weight.append(w / w.sum(1, keepdim=True))
    return Regridder(torch.cat(index), torch.cat(weight), (V,), (p.shape[0],))
