"""The domain protocol: what a spatial component needs to know about where the points live.

A domain is an immutable description of the point set (a lat-lon grid, a graph or mesh). It is
passed to every spatial component as the second positional argument and never stored as module
state, so one module can run on domains of different sizes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from faconv.checks import check_int
from faconv.errors import DomainError
from faconv.functional.regions import Regions

__all__ = ["Domain"]


class Domain(ABC):
    """Base class of domains.

    Subclasses define ``kind`` (``"grid"`` or ``"graph"``), ``point_shape``, the points'
    relative areas (``point_areas``) and ``laplacian``; weights, pooling and shape checks are
    written once here.
    """

    kind: str

    @property
    @abstractmethod
    def point_shape(self) -> tuple[int, ...]:
        """``P``: ``(H, W)`` for a grid, ``(N,)`` for a graph."""

    @abstractmethod
    def point_areas(self) -> torch.Tensor:
        """Relative areas of the points (float64, shape ``P``, non-negative, not all zero)."""

    def point_weights(self, device=None, dtype=None) -> torch.Tensor:
        """Quadrature weights of the points, shape ``P``, summing to 1 (area fractions);
        built once per device and dtype (the squeeze pools every step)."""
        dtype = dtype or torch.get_default_dtype()
        device = torch.device(device) if device is not None else torch.device("cpu")

        def compute():
            w = self.point_areas()
            return (w / w.sum()).to(device=device, dtype=dtype)

        return self.cached(("weights", device, dtype), compute)

    @abstractmethod
    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        """The domain's discrete Laplacian of ``(B, *P, C)`` fields (zero on constants)."""

    def cached(self, key, compute):
        """Memoise per-domain precomputation (weights, edge groups, bases) across time steps.
        Domains are immutable, so cached values never go stale."""
        cache = self.__dict__.setdefault("_cache", {})  # works on frozen dataclasses too
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def regions(self, num_regions: int) -> Regions:
        """A partition of the points into exactly ``num_regions`` contiguous regions (nearest
        region centre) and a smooth interpolation from regions back to points, cached.

        Used by location-aware heads (pool onto regions) and decoders (interpolate back), so
        embeddings keep *where* highs and lows are. Grids tile into ``rows × cols`` blocks
        (the factor pair of ``num_regions`` closest to the grid's aspect ratio, wrapping in
        longitude when periodic); graphs take centres by farthest-point sampling of the node
        positions.

        Raises:
            DomainError: more regions than points, or a graph without positions.
        """
        check_int(num_regions, "num_regions", type(self).__name__, minimum=1, error=DomainError)
        if num_regions > self.num_points:
            raise DomainError(
                f"{num_regions} regions do not fit on a {self.kind} domain of {self.num_points} "
                "points; use fewer regions"
            )
        return self.cached(("regions", num_regions), lambda: self._regions(num_regions))

    def _regions(self, num_regions: int) -> Regions:
        raise DomainError(f"{type(self).__qualname__} does not define regions")

    @property
    def num_points(self) -> int:
        n = 1
        for s in self.point_shape:
            n *= s
        return n

    def check(self, x: torch.Tensor, name: str = "input", leading: int = 1) -> None:
        """Raise DomainError unless ``x`` is ``(*lead, *P, C)`` with ``leading`` lead dims."""
        p = self.point_shape
        if x.dim() != leading + len(p) + 1:
            raise DomainError(
                f"{name} has shape {tuple(x.shape)} (rank {x.dim()}); on a {self.kind} domain "
                f"with point shape {p} it must have rank {leading + len(p) + 1}"
            )
        got = tuple(x.shape[leading : leading + len(p)])
        if got != p:
            raise DomainError(
                f"{name} has point dims {got} but the {self.kind} domain has point shape {p}"
            )

    def pool(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Area-weighted mean over the points.

        Args:
            x: ``(B, *P, C)``.
            mask: optional ``(B, *P, C)`` or ``(B, *P, 1)`` of 0/1 (or bool): 1 where valid.

        Shapes:
            - output: ``(B, C)``.
        """
        w = self.point_weights(x.device, x.dtype).unsqueeze(-1)  # (*P, 1)
        dims = tuple(range(1, 1 + len(self.point_shape)))
        if mask is None:
            return (x * w).sum(dims)
        w = w * mask.to(x.dtype)
        return (x * w).sum(dims) / w.sum(dims).clamp_min(torch.finfo(x.dtype).tiny)


def check_domain_kind(component: object, domain: Domain) -> None:
    """Raise DomainError unless ``domain.kind`` is one the spatial ``component`` supports."""
    if not isinstance(domain, Domain):
        raise DomainError(
            f"{type(component).__qualname__} needs a faconv Domain (GridDomain, ...) as its "
            f"second argument, got {type(domain).__qualname__}"
        )
    supported = getattr(component, "domains", frozenset())
    if domain.kind not in supported:
        raise DomainError(
            f"{type(component).__qualname__} ({getattr(component, 'registry_name', '?')}) "
            f"supports {sorted(supported)} domains, but was given a {domain.kind!r} domain"
        )


def domain_kind_pre_hook(module, args) -> None:
    """``forward`` pre-hook of spatial components: the second argument must be a domain of a
    supported kind (a clear error instead of a shape error deep inside torch)."""
    if len(args) < 2:
        raise DomainError(
            f"{type(module).__qualname__} is called as module(x, domain); the domain is missing"
        )
    check_domain_kind(module, args[1])
