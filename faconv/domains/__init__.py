"""Domains: where the points live (lat-lon grids, graphs, icosahedral meshes)."""

from faconv.domains.base import Domain, check_domain_kind
from faconv.domains.graph import GraphDomain
from faconv.domains.grid import GridDomain
from faconv.domains.icosahedral import IcosahedralMesh, icosahedral_mesh

__all__ = [
    "Domain",
    "GraphDomain",
    "GridDomain",
    "IcosahedralMesh",
    "check_domain_kind",
    "icosahedral_mesh",
]
