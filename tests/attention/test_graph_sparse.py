import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, DomainError, GraphDomain
from faconv.attention._reference import graph_attention_reference
from faconv.testing import compare_tensors
from tests.conftest import randn
from tests.strategies import random_graphs


@given(g=random_graphs(), heads=st.sampled_from([1, 2, 4]), use_scales=st.booleans())
def test_sparse_equals_dense_masked_reference(g, heads, use_scales):
    dom = g["domain"]
    scales = dom.scales[:1] if use_scales else None
    m = faconv.SparseGraphAttention(8, heads, qkv_bias=True, scales=scales).double()
    x = randn(2, dom.num_nodes, 8, seed=g["seed"])
    compare_tensors(m(x, dom), graph_attention_reference(m, x, dom))


def test_never_builds_a_node_by_node_matrix():
    # 10,242 nodes: an N x N float64 score matrix per head would need ~3 GB; the sparse path
    # works on E + N entries (about 72k) and finishes quickly.
    mesh = faconv.icosahedral_mesh(5)
    dom = GraphDomain.from_mesh(mesh)
    m = faconv.SparseGraphAttention(8, 2)
    with torch.no_grad():
        y = m(torch.randn(1, mesh.num_nodes, 8), dom)
    assert y.shape == (1, 10242, 8)
    snd, _rcv = m.neighbourhood(dom)
    assert snd.numel() == mesh.senders.numel() + mesh.num_nodes


def test_long_range_scales_reach_further():
    mesh = faconv.icosahedral_mesh(3, multimesh=True)
    dom = GraphDomain.from_mesh(mesh)
    m = faconv.SparseGraphAttention(4, 1, scales=[3]).double()
    snd, rcv = m.neighbourhood(dom)
    far = (mesh.vertices[snd] - mesh.vertices[rcv]).norm(dim=1)
    fine = (mesh.vertices[mesh.senders] - mesh.vertices[mesh.receivers]).norm(dim=1)
    assert far.max() > 4 * fine[mesh.edge_scale == 0].max()
    with pytest.raises(DomainError, match=r"scales \[7\]"):
        faconv.SparseGraphAttention(4, 1, scales=[7])(randn(1, mesh.num_nodes, 4), dom)


def test_config_errors():
    with pytest.raises(ConfigError, match="num_heads must be an integer"):
        faconv.SparseGraphAttention(6, 0)
    with pytest.raises(ConfigError, match="scales"):
        faconv.SparseGraphAttention(8, scales=[])
