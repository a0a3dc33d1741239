"""Contracts of every registered component that supports graphs, on an icosahedral multimesh
(and the FAConvLSTM cell composed from graph components): the graph counterpart of
tests/test_contracts.py, with node-permutation equivariance and edge-order invariance instead of
longitude rolls."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import GraphDomain
from faconv.testing import (
    assert_batch_independent,
    assert_config_roundtrip,
    assert_edge_order_invariant,
    assert_permutation_equivariant,
    compare_tensors,
)
from tests.conftest import randn

C = 8
MESH = faconv.icosahedral_mesh(2, multimesh=True)
DOMAIN = GraphDomain.from_mesh(MESH)
N = MESH.num_nodes

GRAPH_CELL = {
    "type": "fa_convlstm", "in_channels": 3, "hidden_channels": C,
    "mixer": {"type": "graph_dw", "scales": [0, 1, 2]},
    "attention": {"type": "graph_sparse", "num_heads": 2, "scales": [1, 2]}, "attn_every": 1,
}  # fmt: skip


def _graph_components():
    out = []
    for kind in ("mixer", "attention"):
        for name in faconv.list_components(kind):
            if "graph" in faconv.registries()[kind].get(name).domains:
                out.append((kind, name))
    return [*out, ("cell", "graph fa_convlstm")]


COMPONENTS = _graph_components()


def _make(kind, name):
    """(module, fn(module) -> (x, domain) -> tensor, input width)."""
    if kind == "cell":
        m = faconv.build(GRAPH_CELL).double()

        def cell_fn(mod):
            def run(x, dom):
                xx, h, c = x.split([3, C, C], -1)
                y, s = mod(xx, dom, faconv.State(h, c), t=0)
                return torch.cat([y, s.h, s.c], -1)

            return run

        return m, cell_fn, 3 + 2 * C
    m = faconv.build(name, kind=kind, channels=C).double()
    return m, (lambda mod: lambda x, dom: mod(x, dom)), C


def test_graph_components_are_covered():
    names = {n for _, n in COMPONENTS}
    assert {"graph_dw", "graph_sparse", "squeeze_excite"} <= names


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
@given(seed=st.integers(0, 9999))
def test_node_permutation_equivariance(kind, name, seed):
    m, fn, width = _make(kind, name)
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    assert_permutation_equivariant(fn(m), randn(2, N, width, seed=seed), DOMAIN, perm)


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
@given(seed=st.integers(0, 9999))
def test_edge_order_invariance(kind, name, seed):
    m, fn, width = _make(kind, name)
    order = torch.randperm(DOMAIN.senders.numel(), generator=torch.Generator().manual_seed(seed))
    assert_edge_order_invariant(fn(m), randn(2, N, width, seed=seed), DOMAIN, order)


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_shapes_batch_independence_roundtrip_gradients(kind, name):
    m, fn, width = _make(kind, name)
    x = randn(3, N, width, seed=1)
    y = fn(m)(x, DOMAIN)
    assert y.shape[:2] == (3, N) and y.dtype == torch.float64 and torch.isfinite(y).all()
    assert_batch_independent(lambda v: fn(m)(v, DOMAIN), x)
    if kind == "cell":
        rebuilt = faconv.build(m.to_config()).double()
        rebuilt.load_state_dict(m.state_dict())
        compare_tensors(fn(rebuilt)(x, DOMAIN), y)
    else:
        assert_config_roundtrip(m, lambda mod: fn(mod)(x, DOMAIN))
    m.train()
    fn(m)(x, DOMAIN).square().sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing}"


def test_mesh_sequence_layer_equals_unroll_and_chunks():
    layer = faconv.Recurrent(GRAPH_CELL | {"attn_every": 2}, stateful=True).double()
    xs = randn(2, 5, N, 3, seed=4)
    full = faconv.Recurrent(GRAPH_CELL | {"attn_every": 2}).double()
    full.load_state_dict(layer.state_dict())
    ref = full(xs, DOMAIN)
    assert ref.shape == (2, 5, N, C)
    compare_tensors(torch.cat([layer(xs[:, :2], DOMAIN), layer(xs[:, 2:], DOMAIN)], 1), ref)
