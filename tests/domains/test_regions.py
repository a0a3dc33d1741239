"""Coarse regions of grids and meshes: partition, interpolation, symmetry, errors."""

import pytest
import torch

import faconv
from faconv import DomainError, GraphDomain, GridDomain
from faconv.functional.regions import region_mean, region_to_points


@pytest.mark.parametrize("periodic", [False, True])
def test_grid_regions_are_equal_blocks_and_interpolation_is_a_partition_of_unity(periodic):
    d = GridDomain(12, 24, periodic=periodic)
    r = d.regions(8)  # aspect 1:2 -> 2 x 4 blocks of 6 x 6 points
    a = r.assignment.view(12, 24)
    assert r.num_regions == 8 and torch.bincount(r.assignment).tolist() == [36] * 8
    assert (a[:6, :6] == a[0, 0]).all() and a[0, 0] != a[0, 6] and a[0, 0] != a[6, 0]
    assert torch.allclose(r.weight.sum(1), torch.ones(12 * 24, dtype=torch.float64))
    x = torch.full((2, 12 * 24, 3), 2.5)
    w = d.point_weights().reshape(-1)
    assert torch.allclose(region_mean(x, r, w), torch.full((2, 8, 3), 2.5))
    assert torch.allclose(region_to_points(torch.full((2, 8, 3), 2.5), r), x)
    assert d.regions(8) is r  # cached on the domain


def test_regions_roll_with_the_longitude_on_periodic_grids():
    d = GridDomain(16, 32, periodic=True, lat=[-60 + 8 * i for i in range(16)])
    r = d.regions(8)  # 2 x 4 blocks of 8 x 8 points
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, 32, 2, generator=g, dtype=torch.float64)
    w = d.point_weights(dtype=torch.float64).reshape(-1)
    m = region_mean(x.reshape(1, -1, 2), r, w).view(1, 2, 4, 2)
    rolled = region_mean(torch.roll(x, 8, 2).reshape(1, -1, 2), r, w).view(1, 2, 4, 2)
    assert torch.allclose(rolled, torch.roll(m, 1, 2))  # one block east = one region east
    f = torch.randn(1, 8, 2, generator=g, dtype=torch.float64)
    up = region_to_points(f, r).view(1, 16, 32, 2)
    f_rolled = torch.roll(f.view(1, 2, 4, 2), 1, 2).reshape(1, 8, 2)
    assert torch.allclose(region_to_points(f_rolled, r).view(1, 16, 32, 2), torch.roll(up, 8, 2))


def test_mesh_regions_cover_the_sphere_evenly():
    d = GraphDomain.from_mesh(faconv.icosahedral_mesh(3))
    r = d.regions(12)
    sizes = torch.bincount(r.assignment, minlength=12)
    assert (sizes > 0).all() and sizes.max() < 2 * sizes.min()
    assert torch.allclose(r.weight.sum(1), torch.ones(642, dtype=torch.float64))


def test_region_errors():
    with pytest.raises(DomainError, match="do not fit"):
        GridDomain(4, 4).regions(17)
    with pytest.raises(DomainError, match="factor pair"):
        GridDomain(4, 4).regions(7)  # 7 = 1 x 7 does not fit in 4 columns
    with pytest.raises(DomainError, match="node positions"):
        GraphDomain(torch.tensor([0, 1]), torch.tensor([1, 0]), 2).regions(2)
