"""Negative controls: the property checkers must FAIL on deliberately broken modules."""

import pytest
import torch

import faconv
from faconv.mixers.base import SpatialMixer
from faconv.registry import Registry
from faconv.testing import (
    assert_batch_independent,
    assert_config_roundtrip,
    assert_roll_equivariant,
    compare_tensors,
)


def test_roll_checker_catches_position_dependence():
    x = torch.randn(1, 4, 6, 2, dtype=torch.float64)
    bias = torch.arange(6, dtype=torch.float64)[None, None, :, None]
    assert_roll_equivariant(lambda v: v * 2, x, 2, dim=2)
    with pytest.raises(AssertionError, match="roll"):
        assert_roll_equivariant(lambda v: v + bias, x, 2, dim=2)


def test_batch_checker_catches_cross_sample_mixing():
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    assert_batch_independent(torch.tanh, x)
    with pytest.raises(AssertionError, match="depends on another sample"):
        assert_batch_independent(lambda v: v - v.mean(0, keepdim=True), x)


def test_roundtrip_checker_catches_a_lossy_config():
    reg = Registry("toy_kind_roundtrip", SpatialMixer)

    @reg.register("lossy")
    class Lossy(SpatialMixer):
        domains = frozenset({"grid"})

        def __init__(self, channels: int, scale: float = 1.0):
            super().__init__()
            self.channels, self.scale = channels, 1.0  # forgets the real scale
            self._scale = scale
            self.lin = torch.nn.Linear(channels, channels)

        def forward(self, x, domain):
            return self.lin(x) * self._scale

    x = torch.randn(2, 3, 3, 4)
    with pytest.raises(AssertionError, match="different outputs"):
        assert_config_roundtrip(Lossy(4, scale=3.0), lambda m: m(x, faconv.GridDomain(3, 3)))


def test_compare_tensors_uses_dtype_tolerance():
    a = torch.ones(3, dtype=torch.float64)
    compare_tensors(a + 1e-13, a)
    with pytest.raises(AssertionError):
        compare_tensors(a + 1e-6, a)
    compare_tensors((a + 1e-6).float(), a.float())


def test_permutation_checker_catches_node_id_dependence():
    from faconv.testing import assert_edge_order_invariant, assert_permutation_equivariant

    dom = faconv.GraphDomain.from_mesh(faconv.icosahedral_mesh(1))
    x = torch.randn(1, 42, 2, dtype=torch.float64)
    perm = torch.randperm(42)
    ids = torch.arange(42, dtype=torch.float64)[None, :, None]
    assert_permutation_equivariant(lambda v, d: v.tanh(), x, dom, perm)
    with pytest.raises(AssertionError, match="relabelling"):
        assert_permutation_equivariant(lambda v, d: v + ids, x, dom, perm)

    def first_edge_wins(v, d):  # depends on which edge is listed first
        return v + v[:, d.senders[0]].unsqueeze(1)

    order = torch.randperm(dom.senders.numel())
    with pytest.raises(AssertionError, match="edge order"):
        assert_edge_order_invariant(first_edge_wins, x, dom, order)
