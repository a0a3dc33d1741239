"""Heads: the regional head keeps where things are; the paper-literal subspace head does not."""

import torch

import faconv
from faconv import GraphDomain, GridDomain, RegionalHead, SubspaceHead


def test_regional_head_tells_a_pattern_from_its_mirror_image_unlike_global_pooling():
    d = GridDomain(8, 16)
    g = torch.Generator().manual_seed(0)
    h = torch.randn(1, 1, 8, 16, 4, generator=g, dtype=torch.float64)
    mirror = torch.flip(h, [3])  # the highs and lows swap sides
    regional = RegionalHead(4, out_dim=8, regions=8).double()
    subspace = SubspaceHead(4, num_subspaces=2, subspace_dim=4).double()
    assert not torch.allclose(regional(h, d), regional(mirror, d))
    assert torch.allclose(subspace(h, d), subspace(mirror, d))  # mean and spread: identical


def test_regional_head_is_batch_independent_and_runs_on_meshes():
    head = RegionalHead(4, out_dim=6, regions=12)
    mesh = GraphDomain.from_mesh(faconv.icosahedral_mesh(2))
    h = torch.randn(3, 5, 162, 4)
    z = head(h, mesh)
    assert z.shape == (3, 5, 6)
    h2 = h.clone()
    h2[1] = 0.0
    z2 = head(h2, mesh)
    assert torch.equal(z[0], z2[0]) and torch.equal(z[2], z2[2])
    assert faconv.build(head.to_config(), kind="head").to_config() == head.to_config()
