"""``GraphDomain``: points connected by directed edges (meshes, station networks, PyG graphs)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from faconv.checks import check_int
from faconv.domains.base import Domain
from faconv.errors import DomainError
from faconv.functional.regions import Regions, farthest_point_sampling, make_regions

__all__ = ["GraphDomain"]


def _as_index(t, name: str) -> torch.Tensor:
    t = torch.as_tensor(t)
    if t.dim() != 1:
        raise DomainError(f"GraphDomain.{name} must be 1-D (E,), got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.dtype == torch.bool:
        raise DomainError(f"GraphDomain.{name} must hold integer values, got {t.dtype}")
    return t.long()


def _finite_float(t, name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    t = torch.as_tensor(t)
    if shape is not None and tuple(t.shape) != shape:
        raise DomainError(f"GraphDomain.{name} must have shape {shape}, got {tuple(t.shape)}")
    if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
        raise DomainError(f"GraphDomain.{name} must hold finite floating-point values")
    return t


@dataclass(frozen=True, eq=False)
class GraphDomain(Domain):
    """A graph of ``N`` nodes with directed edges ``senders[e] -> receivers[e]`` (GraphCast).

    Invariants (checked at construction): ``senders``, ``receivers`` and ``edge_scale`` are 1-D
    integer tensors of one length ``E`` with node indices in ``[0, N)`` and scales ``>= 0``;
    ``pos`` (if given) is a finite ``(N, D)`` tensor; ``areas`` (if given) are finite, positive,
    ``(N,)``; ``edge_vec`` (if given) is a finite ``(E, 2)`` tensor. Self-loops and repeated
    pairs are allowed (a lattice stencil on a narrow periodic grid has them).

    Point weights are the areas normalised to sum to 1 (uniform without areas), so pooling is
    an area-weighted mean. ``edge_scale`` groups edges by length: 0 for the finest, ``s`` for
    edges about ``2^s`` times longer (multimesh levels, or lattice dilations) -- the graph
    analogue of a dilation.

    Args:
        senders: ``(E,)`` source node of each edge.
        receivers: ``(E,)`` target node of each edge (messages are aggregated here).
        num_nodes (int): ``N``.
        pos: optional ``(N, D)`` node positions (unit vectors on the sphere for meshes).
        areas: optional ``(N,)`` node areas.
        edge_scale: optional ``(E,)`` scale of each edge. Default: all 0.
        edge_vec: optional ``(E, 2)`` sender position relative to the receiver in the
            receiver's local (east, north) frame. Default: derived from ``pos``.
        num_scales (int, optional): how many edge scales the graph defines (a scale may have
            no edges, e.g. a dilation wider than a small lattice). Default:
            ``max(edge_scale) + 1``.
    """

    senders: torch.Tensor
    receivers: torch.Tensor
    num_nodes: int
    pos: torch.Tensor | None = None
    areas: torch.Tensor | None = None
    edge_scale: torch.Tensor | None = None
    edge_vec: torch.Tensor | None = None
    num_scales: int | None = None

    kind = "graph"

    def __post_init__(self) -> None:
        n = self.num_nodes
        check_int(n, "num_nodes", "GraphDomain", minimum=1, error=DomainError)
        s, r = _as_index(self.senders, "senders"), _as_index(self.receivers, "receivers")
        if s.shape != r.shape:
            raise DomainError(
                f"GraphDomain has {s.numel()} senders but {r.numel()} receivers; they must pair up"
            )
        for name, t in (("senders", s), ("receivers", r)):
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
                bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
                raise DomainError(
                    f"GraphDomain.{name} holds node index {bad} outside [0, {n}) for a graph of "
                    f"{n} nodes"
                )
        set_ = object.__setattr__
        set_(self, "senders", s)
        set_(self, "receivers", r)
        scale = (
            torch.zeros_like(s)
            if self.edge_scale is None
            else _as_index(self.edge_scale, "edge_scale")
        )
        if scale.shape != s.shape or (scale.numel() and int(scale.min()) < 0):
            raise DomainError("GraphDomain.edge_scale must be (E,) non-negative integers")
        set_(self, "edge_scale", scale)
        top = int(scale.max()) + 1 if scale.numel() else 1
        ns = top if self.num_scales is None else self.num_scales
        if isinstance(ns, bool) or not isinstance(ns, int) or ns < top:
            raise DomainError(
                f"GraphDomain.num_scales must be an integer >= {top} (the largest edge scale + 1), "
                f"got {self.num_scales!r}"
            )
        set_(self, "num_scales", ns)
        if self.pos is not None:
            pos = _finite_float(self.pos, "pos")
            if pos.dim() != 2 or pos.shape[0] != n:
                raise DomainError(f"GraphDomain.pos must be (N={n}, D), got {tuple(pos.shape)}")
            set_(self, "pos", pos)
        if self.areas is not None:
            areas = _finite_float(self.areas, "areas", (n,))
            if not bool((areas > 0).all()):
                raise DomainError("GraphDomain.areas must be finite and positive")
            set_(self, "areas", areas)
        if self.edge_vec is not None:
            set_(self, "edge_vec", _finite_float(self.edge_vec, "edge_vec", (s.numel(), 2)))

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
        """From :func:`faconv.icosahedral_mesh`: unit-vector positions, node areas and the
        multimesh level of every edge as its scale."""
        return cls(
            mesh.senders,
            mesh.receivers,
            mesh.num_nodes,
            mesh.vertices,
            mesh.areas,
            mesh.edge_scale,
            num_scales=int(mesh.edge_scale.max()) + 1,
        )

    @classmethod
    def from_grid(
        cls,
        height: int,
        width: int,
        kernel_size: int = 3,
        dilations: Sequence[int] = (1,),
        periodic: bool = False,
        lat: Sequence[float] | None = None,
    ) -> GraphDomain:
        """The lattice graph of an ``H × W`` grid: one edge per tap of a ``k × k`` stencil.

        Node ``i * W + j`` is grid point ``(i, j)`` (row-major, rows from north to south).
        Dilation ``dilations[s]`` gives the edges of scale ``s``; longitude wraps around when
        ``periodic``. Edge vectors are in grid steps (east = +column, north = -row); areas are
        ``cos(lat)`` when ``lat`` is given. On this graph a graph mixer can reproduce a grid
        mixer exactly (see ``GraphDWMixer.from_grid_mixer``).
        """
        half = kernel_size // 2
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        rows, cols = rows.reshape(-1), cols.reshape(-1)
        snd, rcv, scl, vec = [], [], [], []
        for s, d in enumerate(dilations):
            for a, b in itertools.product(range(-half, half + 1), repeat=2):
                if a == 0 and b == 0:
                    continue
                r2, c2 = rows + d * a, cols + d * b
                keep = (r2 >= 0) & (r2 < height)
                if periodic:
                    c2 = c2 % width
                else:
                    keep &= (c2 >= 0) & (c2 < width)
                snd.append((r2 * width + c2)[keep])
                rcv.append((rows * width + cols)[keep])
                scl.append(torch.full((int(keep.sum()),), s))
                vec.append(
                    torch.tensor([[d * b, -d * a]], dtype=torch.float64).expand(int(keep.sum()), 2)
                )
        areas = None
        if lat is not None:
            w = torch.cos(torch.deg2rad(torch.as_tensor(lat, dtype=torch.float64))).clamp_min(1e-12)
            areas = w.repeat_interleave(width)
        return cls(
            torch.cat(snd),
            torch.cat(rcv),
            height * width,
            None,
            areas,
            torch.cat(scl),
            torch.cat(vec),
            len(dilations),
        )

    # -- Domain protocol -------------------------------------------------------------------------
    @property
    def point_shape(self) -> tuple[int]:
        return (self.num_nodes,)

    @property
    def edge_index(self) -> torch.Tensor:
        """``(2, E)``: PyG convention."""
        return torch.stack([self.senders, self.receivers])

    @property
    def scales(self) -> list[int]:
        """The edge scales the graph defines: ``0 .. num_scales - 1``."""
        return list(range(self.num_scales))

    def point_areas(self) -> torch.Tensor:
        return (
            torch.ones(self.num_nodes, dtype=torch.float64)
            if self.areas is None
            else (self.areas.double())
        )

    def laplacian(self, x: torch.Tensor, scale: int = 0) -> torch.Tensor:
        """Graph Laplacian over the edges of ``scale``: ``Σ_{s→i} (x_s - x_i)``,
        ``(B, N, C) -> (B, N, C)`` (zero on constants)."""
        from torch_geometric.utils import scatter

        self.check(x, "laplacian input")
        sel = self.cached(
            ("laplacian_edges", scale), lambda: (self.edge_scale == scale).nonzero().squeeze(1)
        )
        snd, rcv = self.senders[sel].to(x.device), self.receivers[sel].to(x.device)
        diff = x[:, snd] - x[:, rcv]
        return scatter(diff, rcv, dim=1, dim_size=self.num_nodes, reduce="sum")

    def _regions(self, num_regions: int) -> Regions:
        """Centres by farthest-point sampling of ``pos``; distances in centre spacings."""
        if self.pos is None:
            raise DomainError(
                "regions on a graph need node positions: build the GraphDomain with pos "
                "(unit vectors on the sphere for meshes)"
            )
        pos = self.pos.double()
        centres = pos[farthest_point_sampling(pos, num_regions)]
        if num_regions > 1:
            gaps = torch.cdist(centres, centres).fill_diagonal_(float("inf")).min(1).values
            spacing = float(gaps.median())
        else:
            spacing = float(torch.cdist(pos, centres).max()) or 1.0

        def sq_distance(points: slice) -> torch.Tensor:
            return torch.cdist(pos[points], centres) ** 2 / spacing**2

        return make_regions(self.num_points, num_regions, sq_distance)

    def edge_vectors(self) -> torch.Tensor:
        """Sender position relative to its receiver in the receiver's local (east, north)
        frame: ``edge_vec`` if given, the tangent-plane projection for ``(N, 3)`` positions on
        the unit sphere, or the plain difference for ``(N, 2)`` planar positions.

        Shapes:
            - output: ``(E, 2)`` float64.
        """
        return self.cached("edge_vectors", self._edge_vectors)

    def _edge_vectors(self) -> torch.Tensor:
        if self.edge_vec is not None:
            return self.edge_vec.double()
        if self.pos is None or self.pos.shape[1] not in (2, 3):
            raise DomainError(
                "this graph has no edge geometry: give edge_vec (E, 2) or positions pos "
                "(N, 3) on the unit sphere or (N, 2) in the plane"
            )
        p = self.pos.double()
        r, d = p[self.receivers], p[self.senders] - p[self.receivers]
        if p.shape[1] == 2:
            return d
        z = torch.tensor([0.0, 0.0, 1.0], dtype=p.dtype)
        east = torch.linalg.cross(z.expand_as(r), r)
        # at the poles east is undefined: take the tangent direction of the y axis instead
        polar = east.norm(dim=1) < 1e-12
        y = torch.tensor([0.0, 1.0, 0.0], dtype=p.dtype)
        east[polar] = torch.linalg.cross(r[polar], y.expand_as(r[polar]))
        east = east / east.norm(dim=1, keepdim=True)
        north = torch.linalg.cross(r, east)
        return torch.stack([(d * east).sum(1), (d * north).sum(1)], 1)
