"""Domains: where the points live (grids now; graphs and meshes plug in beside them)."""

from faconv.domains.base import Domain, check_domain_kind
from faconv.domains.grid import GridDomain

__all__ = ["Domain", "GridDomain", "check_domain_kind"]
