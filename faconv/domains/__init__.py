"""Domains: where the points live (lat-lon grids; icosahedral mesh construction)."""

from faconv.domains.base import Domain, check_domain_kind
from faconv.domains.grid import GridDomain
from faconv.domains.icosahedral import IcosahedralMesh, icosahedral_mesh

__all__ = ["Domain", "GridDomain", "IcosahedralMesh", "check_domain_kind", "icosahedral_mesh"]
