"""``GridDomain``: a regular (lat-lon) grid of ``H × W`` points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from faconv.checks import check_int
from faconv.domains.base import Domain
from faconv.errors import DomainError
from faconv.functional.regions import Regions, make_regions

__all__ = ["GridDomain", "wraps_in_longitude"]


def wraps_in_longitude(lon: Sequence[float]) -> bool:
    """Whether longitudes (degrees, any convention, increasing or decreasing modulo 360) go all
    the way round: the span from the first to the last column plus one mean step is 360°
    (to 0.1 %). The one rule for "global in longitude" in faconv (domains, regridding, data).
    """
    lon = [float(v) for v in lon]
    if len(lon) < 2:
        return False
    sign = 1.0 if (lon[1] - lon[0]) % 360.0 < 180.0 else -1.0
    span = (sign * (lon[-1] - lon[0])) % 360.0
    return math.isclose(span * len(lon) / (len(lon) - 1), 360.0, rel_tol=1e-3)


@dataclass(frozen=True, eq=False)
class GridDomain(Domain):
    """A regular ``H × W`` grid; rows are latitudes, columns longitudes.

    Invariants: ``height, width >= 1``; ``lat`` (if given) holds ``H`` finite latitudes in
    degrees within [-90, 90], in either order. Point weights are ``cos(lat)`` normalised to sum
    to 1 (the area of a lat-lon cell), or uniform without latitudes.

    Args:
        height (int): ``H``, number of rows.
        width (int): ``W``, number of columns.
        periodic (bool): the grid wraps around in longitude (a global grid); mixers then pad
            circularly along ``W``. Default: ``False``.
        lat (sequence of float, optional): row latitudes in degrees, for area weighting.

    Example:
        >>> GridDomain(48, 48).point_shape
        (48, 48)
    """

    height: int
    width: int
    periodic: bool = False
    lat: tuple[float, ...] | None = None

    kind = "grid"

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            v = getattr(self, name)
            check_int(v, name, "GridDomain", minimum=1, error=DomainError)
        if self.lat is not None:
            lat = tuple(float(v) for v in self.lat)
            if len(lat) != self.height:
                raise DomainError(
                    f"GridDomain has height {self.height} but {len(lat)} latitudes were given"
                )
            if not all(math.isfinite(v) and -90.0 <= v <= 90.0 for v in lat):
                raise DomainError("GridDomain latitudes must be finite and within [-90, 90]")
            object.__setattr__(self, "lat", lat)

    @classmethod
    def from_coords(cls, lat: Sequence[float], lon: Sequence[float]) -> GridDomain:
        """Grid from coordinate vectors; periodic when the longitudes cover the full circle."""
        return cls(len(lat), len(lon), periodic=wraps_in_longitude(lon), lat=tuple(lat))

    @property
    def point_shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        """5-point Laplacian in grid steps, ``(B, H, W, C) -> (B, H, W, C)``: neighbours wrap in
        longitude on periodic grids; at the other edges missing neighbours are left out
        (Neumann), so constants have zero Laplacian everywhere."""
        self.check(x, "laplacian input")
        lap = torch.zeros_like(x)
        dn, up = x[:, 1:] - x[:, :-1], x[:, :-1] - x[:, 1:]
        lap[:, :-1] += dn
        lap[:, 1:] += up
        if self.periodic:
            lap += torch.roll(x, 1, 2) + torch.roll(x, -1, 2) - 2 * x
        else:
            lap[:, :, :-1] += x[:, :, 1:] - x[:, :, :-1]
            lap[:, :, 1:] += x[:, :, :-1] - x[:, :, 1:]
        return lap

    def _regions(self, num_regions: int) -> Regions:
        """``rows × cols = num_regions`` blocks, the factor pair nearest the aspect ratio."""
        pairs = [(r, num_regions // r) for r in range(1, num_regions + 1) if num_regions % r == 0]
        pairs = [(r, c) for r, c in pairs if r <= self.height and c <= self.width]
        if not pairs:
            raise DomainError(
                f"{num_regions} regions cannot tile a {self.height}x{self.width} grid in blocks; "
                "choose a number with a factor pair that fits (e.g. 16 = 4x4)"
            )
        aspect = math.log(self.height / self.width)
        rows, cols = min(pairs, key=lambda rc: abs(math.log(rc[0] / rc[1]) - aspect))
        u = (torch.arange(self.height, dtype=torch.float64) + 0.5) * rows / self.height
        v = (torch.arange(self.width, dtype=torch.float64) + 0.5) * cols / self.width
        pu, pv = (a.reshape(-1) for a in torch.meshgrid(u, v, indexing="ij"))
        cu, cv = (
            a.reshape(-1) + 0.5
            for a in torch.meshgrid(
                torch.arange(rows, dtype=torch.float64),
                torch.arange(cols, dtype=torch.float64),
                indexing="ij",
            )
        )

        def sq_distance(points: slice) -> torch.Tensor:  # in block units
            du = pu[points, None] - cu[None]
            dv = pv[points, None] - cv[None]
            if self.periodic:
                dv = torch.remainder(dv + cols / 2, cols) - cols / 2
            return du**2 + dv**2

        return make_regions(self.num_points, num_regions, sq_distance)

    def point_areas(self) -> torch.Tensor:
        # cos(latitude) per row; uniform without latitudes or when only the poles are given
        row = torch.ones(self.height, dtype=torch.float64)
        if self.lat is not None:
            cos = torch.cos(torch.deg2rad(torch.tensor(self.lat, dtype=torch.float64)))
            if float(cos.clamp_min(0.0).sum()) > 0.0:
                row = cos.clamp_min(0.0)
        return row.unsqueeze(1).expand(self.height, self.width)
