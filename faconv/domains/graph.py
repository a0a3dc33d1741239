"""``GraphDomain``: points connected by directed edges (meshes, station networks, PyG graphs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from faconv.domains.base import Domain
from faconv.errors import DomainError

__all__ = ["GraphDomain"]


def _as_index(t, name: str) -> torch.Tensor:
    t = torch.as_tensor(t)
    if t.dim() != 1:
        raise DomainError(f"GraphDomain.{name} must be 1-D (E,), got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.dtype == torch.bool:
        raise DomainError(f"GraphDomain.{name} must hold integer node indices, got {t.dtype}")
    return t.long()


@dataclass(frozen=True, eq=False)
class GraphDomain(Domain):
    """A graph of ``N`` nodes with directed edges ``senders[e] -> receivers[e]`` (GraphCast).

    Invariants (checked at construction): ``senders`` and ``receivers`` are 1-D integer tensors
    of the same length with indices in ``[0, N)``; ``pos`` (if given) is a finite ``(N, D)``
    tensor; ``areas`` (if given) are finite, positive, ``(N,)``. Point weights are the areas
    normalised to sum to 1 (uniform without areas), so pooling is an area-weighted mean.

    Args:
        senders: ``(E,)`` source node of each edge.
        receivers: ``(E,)`` target node of each edge (messages are aggregated here).
        num_nodes (int): ``N``.
        pos: optional ``(N, D)`` node positions (unit vectors on the sphere for meshes).
        areas: optional ``(N,)`` node areas.
    """

    senders: torch.Tensor
    receivers: torch.Tensor
    num_nodes: int
    pos: torch.Tensor | None = None
    areas: torch.Tensor | None = None

    kind = "graph"

    def __post_init__(self) -> None:
        n = self.num_nodes
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DomainError(f"GraphDomain.num_nodes must be a positive integer, got {n!r}")
        s, r = _as_index(self.senders, "senders"), _as_index(self.receivers, "receivers")
        if s.shape != r.shape:
            raise DomainError(
                f"GraphDomain has {s.numel()} senders but {r.numel()} receivers; they must pair up"
            )
        for name, t in (("senders", s), ("receivers", r)):
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
                raise DomainError(
                    f"GraphDomain.{name} holds node index {int(t.min()) if int(t.min()) < 0 else int(t.max())}"
                    f" outside [0, {n}) for a graph of {n} nodes"
                )
        object.__setattr__(self, "senders", s)
        object.__setattr__(self, "receivers", r)
        if self.pos is not None:
            pos = torch.as_tensor(self.pos)
            if pos.dim() != 2 or pos.shape[0] != n:
                raise DomainError(f"GraphDomain.pos must be (N={n}, D), got {tuple(pos.shape)}")
            if not pos.is_floating_point() or not bool(torch.isfinite(pos).all()):
                raise DomainError("GraphDomain.pos must hold finite floating-point positions")
            object.__setattr__(self, "pos", pos)
        if self.areas is not None:
            areas = torch.as_tensor(self.areas)
            if areas.shape != (n,):
                raise DomainError(f"GraphDomain.areas must be (N={n},), got {tuple(areas.shape)}")
            if not bool(torch.isfinite(areas).all()) or not bool((areas > 0).all()):
                raise DomainError("GraphDomain.areas must be finite and positive")
            object.__setattr__(self, "areas", areas)
        object.__setattr__(self, "_weights", {})

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def from_edge_index(cls, edge_index, num_nodes: int | None = None, pos=None, areas=None):
        """From a PyG-style ``(2, E)`` ``edge_index`` (row 0 senders, row 1 receivers)."""
        ei = torch.as_tensor(edge_index)
        if ei.dim() != 2 or ei.shape[0] != 2:
            raise DomainError(f"edge_index must have shape (2, E), got {tuple(ei.shape)}")
        if num_nodes is None:
            num_nodes = int(ei.max()) + 1 if ei.numel() else (0 if pos is None else len(pos))
        return cls(ei[0], ei[1], int(num_nodes), pos, areas)

    @classmethod
    def from_pyg(cls, data, areas=None):
        """From a ``torch_geometric.data.Data`` (``edge_index``, ``num_nodes``, ``pos``)."""
        return cls.from_edge_index(
            data.edge_index, data.num_nodes, getattr(data, "pos", None), areas
        )

    @classmethod
    def from_mesh(cls, mesh):
        """From :func:`faconv.icosahedral_mesh`: unit-vector positions and node areas."""
        return cls(mesh.senders, mesh.receivers, mesh.num_nodes, mesh.vertices, mesh.areas)

    # -- Domain protocol -------------------------------------------------------------------------
    @property
    def point_shape(self) -> tuple[int]:
        return (self.num_nodes,)

    @property
    def edge_index(self) -> torch.Tensor:
        """``(2, E)``: PyG convention."""
        return torch.stack([self.senders, self.receivers])

    def point_weights(self, device=None, dtype=None) -> torch.Tensor:
        dtype = dtype or torch.get_default_dtype()
        key = (torch.device(device) if device is not None else torch.device("cpu"), dtype)
        if key not in self._weights:
            w = (
                torch.ones(self.num_nodes, dtype=torch.float64)
                if self.areas is None
                else self.areas.double()
            )
            self._weights[key] = (w / w.sum()).to(device=key[0], dtype=dtype)
        return self._weights[key]

    def edge_vectors(self) -> torch.Tensor:
        """Sender position relative to its receiver in the receiver's local (east, north)
        tangent frame, for positions on the unit sphere.

        Shapes:
            - output: ``(E, 2)``.
        """
        if self.pos is None or self.pos.shape[1] != 3:
            raise DomainError("edge_vectors needs (N, 3) unit-sphere positions (pos)")
        p = self.pos.double()
        r, d = p[self.receivers], p[self.senders] - p[self.receivers]
        z = torch.tensor([0.0, 0.0, 1.0], dtype=p.dtype)
        east = torch.linalg.cross(z.expand_as(r), r)
        # at the poles east is undefined: take the x axis' tangent direction instead
        polar = east.norm(dim=1) < 1e-12
        east[polar] = torch.linalg.cross(
            r[polar], torch.tensor([0.0, 1.0, 0.0], dtype=p.dtype).expand_as(r[polar])
        )
        east = east / east.norm(dim=1, keepdim=True)
        north = torch.linalg.cross(r, east)
        return torch.stack([(d * east).sum(1), (d * north).sum(1)], 1)
