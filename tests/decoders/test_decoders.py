"""Decoders: the basis decoder is an isometry of the embedding; bottleneck decoders never read
the hidden state; the paper-literal pointwise decoder does."""

import pytest
import torch

import faconv
from faconv import BasisDecoder, ConfigError, GridDomain, PointwiseDecoder, RegionalDecoder


def test_basis_patterns_are_orthonormal_and_embedding_distances_are_field_distances():
    d = GridDomain(12, 12, lat=[30 + 2 * i for i in range(12)])
    dec = BasisDecoder(8, embedding_dim=6, out_channels=2, regions=16).double()
    with torch.no_grad():
        dec.raw_patterns.normal_()  # any parameters: orthonormality is by construction
        dec.mean.normal_()
    q = dec.basis()
    assert torch.allclose(q.T @ q, torch.eye(6, dtype=torch.float64), atol=1e-12)
    z1, z2 = torch.randn(2, 6, dtype=torch.float64).unbind(0)
    area = torch.zeros(16, dtype=torch.float64).index_add_(
        0, d.regions(16).assignment, d.point_weights(dtype=torch.float64).reshape(-1)
    )
    diff = dec.coarse(z1, d) - dec.coarse(z2, d)  # (regions, C)
    assert torch.allclose((area[:, None] * diff**2).sum(), ((z1 - z2) ** 2).sum())
    # projecting region-constant fields recovers their coordinates
    field = dec.coarse(z1, d)[d.regions(16).assignment].view(1, 1, 12, 12, 2)
    assert torch.allclose(dec.project(field, d)[0, 0], z1, atol=1e-10)


@pytest.mark.parametrize("cls", [BasisDecoder, RegionalDecoder])
def test_bottleneck_decoders_never_read_the_hidden_state(cls):
    d = GridDomain(8, 8)
    dec = cls(4, embedding_dim=5, out_channels=3, regions=16)
    z = torch.randn(2, 3, 5)
    a = dec(z, torch.randn(2, 3, 8, 8, 4), d)
    b = dec(z, torch.randn(2, 3, 8, 8, 4), d)
    assert not dec.reads_hidden and a.shape == (2, 3, 8, 8, 3) and torch.equal(a, b)
    assert faconv.build(dec.to_config(), kind="decoder").to_config() == dec.to_config()


def test_pointwise_decoder_reads_the_hidden_state():
    d = GridDomain(4, 4)
    dec = PointwiseDecoder(4, embedding_dim=5, out_channels=3)
    z = torch.randn(1, 2, 5)
    assert dec.reads_hidden
    assert not torch.equal(
        dec(z, torch.randn(1, 2, 4, 4, 4), d), dec(z, torch.randn(1, 2, 4, 4, 4), d)
    )


def test_basis_needs_room_for_the_embedding():
    with pytest.raises(ConfigError, match="exceeds"):
        BasisDecoder(4, embedding_dim=40, out_channels=2, regions=16)
