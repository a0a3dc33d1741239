"""Icosahedral meshes on the unit sphere: nested refinement, edges, node areas, multimesh.

Invariants (each checked by the tests):

* level ``r`` has ``10·4^r + 2`` nodes, ``20·4^r`` faces and ``30·4^r`` undirected edges;
* nodes lie on the unit sphere; the nodes of level ``r`` are a prefix of those of ``r + 1``;
* faces are counter-clockwise seen from outside (``det[a, b, c] > 0``);
* the 12 icosahedron vertices have degree 5 and every other node degree 6 (one level's edges);
* node areas (one third of each incident geodesic triangle) sum to ``4π``;
* edges are directed and come in both directions, without self-loops.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from faconv.checks import check_int

__all__ = ["IcosahedralMesh", "icosahedral_mesh"]


@dataclass(frozen=True, eq=False)
class IcosahedralMesh:
    """A refined icosahedron (GraphCast-style mesh).

    Attributes:
        level (int): refinement level ``r``.
        vertices: ``(V, 3)`` float64 unit vectors.
        faces: ``(F, 3)`` int64 node indices, counter-clockwise seen from outside.
        senders, receivers: ``(E,)`` int64, directed edges ``senders[e] -> receivers[e]``.
        edge_scale: ``(E,)`` int64, ``level - l`` for an edge of refinement level ``l`` (0 for
            the finest edges; scale ``s`` edges are about ``2^s`` times longer).
        lat, lon: ``(V,)`` float64 degrees (lon in [-180, 180)).
        areas: ``(V,)`` float64 steradians, summing to ``4π``.
        multimesh (bool): edges include those of every coarser level.
    """

    level: int
    vertices: torch.Tensor
    faces: torch.Tensor
    senders: torch.Tensor
    receivers: torch.Tensor
    edge_scale: torch.Tensor
    lat: torch.Tensor
    lon: torch.Tensor
    areas: torch.Tensor
    multimesh: bool

    @property
    def num_nodes(self) -> int:
        return self.vertices.shape[0]


def _icosahedron() -> tuple[torch.Tensor, torch.Tensor]:
    phi = (1 + math.sqrt(5)) / 2
    pts = []
    for a, b in itertools.product((-1.0, 1.0), repeat=2):  # cyclic permutations of (0, ±1, ±φ)
        pts += [(0.0, a, b * phi), (a, b * phi, 0.0), (b * phi, 0.0, a)]
    v = torch.tensor(pts, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    # faces = triples of mutually nearest neighbours (edge length is the minimum distance)
    d = torch.cdist(v, v)
    edge = d.masked_fill(d == 0, math.inf).min()
    adj = (d - edge).abs() < 1e-9
    faces = [
        (i, j, k)
        for i, j, k in itertools.combinations(range(12), 3)
        if adj[i, j] and adj[j, k] and adj[i, k]
    ]
    f = torch.tensor(faces, dtype=torch.long)
    return v, _orient(v, f)


def _orient(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Reorder each face so that it is counter-clockwise seen from outside."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    det = (a * torch.linalg.cross(b, c)).sum(1)
    return torch.where((det < 0)[:, None], f[:, [0, 2, 1]], f)


def _refine(v: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split each face in four; new midpoint nodes are appended (old nodes stay a prefix)."""
    e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])  # (3F, 2), face-edge order
    key = torch.sort(e, dim=1).values
    uniq, inverse = torch.unique(key, dim=0, return_inverse=True)
    mid = v[uniq[:, 0]] + v[uniq[:, 1]]
    mid = mid / mid.norm(dim=1, keepdim=True)
    idx = v.shape[0] + inverse.view(3, -1)  # midpoint node of edges (ab, bc, ca) of each face
    ab, bc, ca = idx
    a, b, c = f.unbind(1)
    new_f = torch.cat(
        [
            torch.stack([a, ab, ca], 1),
            torch.stack([b, bc, ab], 1),
            torch.stack([c, ca, bc], 1),
            torch.stack([ab, bc, ca], 1),
        ]
    )
    return torch.cat([v, mid]), new_f


def _face_edges(f: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges ``(E, 2)`` (sorted pairs) of a triangulation."""
    e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    return torch.unique(torch.sort(e, dim=1).values, dim=0)


def _node_areas(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """A third of each incident spherical triangle (Van Oosterom–Strackee solid angle)."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    num = (a * torch.linalg.cross(b, c)).sum(1).abs()
    den = 1 + (a * b).sum(1) + (b * c).sum(1) + (c * a).sum(1)
    omega = 2 * torch.atan2(num, den)
    areas = torch.zeros(v.shape[0], dtype=v.dtype)
    areas.index_add_(0, f.reshape(-1), (omega / 3).repeat_interleave(3))
    return areas


def icosahedral_mesh(level: int, multimesh: bool = False) -> IcosahedralMesh:
    """Build the icosahedral mesh refined ``level`` times.

    Args:
        level (int): refinement level ``r >= 0`` (level 6 has 40,962 nodes).
        multimesh (bool): also include the edges of every coarser level (GraphCast's
            multimesh, long-range links for message passing). Default: ``False``.

    Example:
        >>> mesh = icosahedral_mesh(2)
        >>> mesh.num_nodes, mesh.faces.shape[0], mesh.senders.shape[0] // 2
        (162, 320, 480)
    """
    check_int(level, "level", "icosahedral_mesh", minimum=0, maximum=9)
    v, f = _icosahedron()
    edges = [_face_edges(f)]
    for _ in range(level):
        v, f = _refine(v, f)
        edges.append(_face_edges(f))
    # edges of different levels join different node pairs, so the union is a concatenation
    levels = range(level + 1) if multimesh else [level]
    und = torch.cat([edges[lv] for lv in levels])
    scale = torch.cat([torch.full((edges[lv].shape[0],), level - lv) for lv in levels])
    senders = torch.cat([und[:, 0], und[:, 1]])
    receivers = torch.cat([und[:, 1], und[:, 0]])
    edge_scale = torch.cat([scale, scale])
    lat = torch.rad2deg(torch.asin(v[:, 2].clamp(-1, 1)))
    lon = torch.rad2deg(torch.atan2(v[:, 1], v[:, 0]))
    lon = torch.where(lon >= 180.0, lon - 360.0, lon)
    return IcosahedralMesh(
        level, v, f, senders, receivers, edge_scale, lat, lon, _node_areas(v, f), multimesh
    )
