import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, DomainError, GraphDomain, GridDomain
from faconv.testing import compare_tensors
from tests.conftest import randn


@given(
    H=st.integers(2, 7), W=st.integers(2, 7), periodic=st.booleans(),
    dilations=st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True),
    combine=st.sampled_from(["sum", "concat"]), with_se=st.booleans(), seed=st.integers(0, 999),
)  # fmt: skip
def test_one_cell_any_geometry_graph_mixer_equals_grid_mixer_on_lattice(
    H, W, periodic, dilations, combine, with_se, seed
):
    """On the lattice graph of an H x W grid (wrap-around edges in longitude when periodic), the
    graph mixer with weights transferred from the grid mixer gives the grid mixer's output."""
    torch.manual_seed(seed)
    lat = torch.linspace(-60, 60, H).tolist()
    grid = faconv.MultiScaleDilatedDWMixer(
        3, 3, dilations, combine=combine, se="squeeze_excite" if with_se else None
    ).double()
    graph = faconv.GraphDWMixer.from_grid_mixer(grid)
    gdom = GraphDomain.from_grid(H, W, 3, dilations, periodic=periodic, lat=lat)
    x = randn(2, H, W, 3, seed=seed)
    y_grid = grid(x, GridDomain(H, W, periodic=periodic, lat=lat))
    y_graph = graph(x.reshape(2, H * W, 3), gdom).reshape(2, H, W, 3)
    compare_tensors(y_graph, y_grid)


@given(
    level=st.integers(1, 3), combine=st.sampled_from(["sum", "concat"]),
    bias=st.booleans(), batch=st.integers(1, 3), seed=st.integers(0, 999),
)  # fmt: skip
def test_fast_aggregation_equals_scatter_reference(level, combine, bias, batch, seed):
    """``forward`` (node-major gather + index_add) equals the per-branch PyG ``scatter``
    reference, values and gradients."""
    torch.manual_seed(seed)
    dom = GraphDomain.from_mesh(faconv.icosahedral_mesh(level, multimesh=True))
    scales = dom.scales[:3]
    m = faconv.GraphDWMixer(3, scales=scales, combine=combine, bias=bias, se=None).double()
    torch.nn.init.normal_(m.theta)
    if bias:
        torch.nn.init.normal_(m.branch_bias)
    x = randn(batch, dom.num_nodes, 3, seed=seed).requires_grad_()
    outs = [m.branch(x, dom, j) for j in range(len(scales))]
    ref = sum(outs) if combine == "sum" else m.fuse(torch.cat(outs, -1))
    out = m(x, dom)
    compare_tensors(out, ref)
    w = torch.randn_like(ref)
    params = [x, *m.parameters()]
    for a, b in zip(torch.autograd.grad((out * w).sum(), params),
                    torch.autograd.grad((ref * w).sum(), params)):  # fmt: skip
        compare_tensors(a, b)
    with torch.no_grad():  # the in-place inference path
        compare_tensors(m(x, dom), ref.detach())


def test_edge_weights_depend_on_direction():
    # a sender east of the receiver and one north of it, same distance: different weights
    m = faconv.GraphDWMixer(1, scales=[0], se=None).double()
    torch.nn.init.normal_(m.theta)
    dom = GraphDomain(torch.tensor([1, 2]), torch.tensor([0, 0]), 3,
                      edge_vec=torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64))  # fmt: skip
    e1 = torch.zeros(1, 3, 1, dtype=torch.float64)
    e1[0, 1] = 1.0
    e2 = torch.zeros_like(e1)
    e2[0, 2] = 1.0
    assert not torch.allclose(m(e1, dom)[0, 0], m(e2, dom)[0, 0])


def test_multiscale_uses_multimesh_levels():
    mesh = faconv.icosahedral_mesh(2, multimesh=True)
    dom = GraphDomain.from_mesh(mesh)
    assert dom.scales == [0, 1, 2]
    m = faconv.GraphDWMixer(4, scales=[0, 1, 2]).double()
    assert m(randn(2, mesh.num_nodes, 4), dom).shape == (2, 162, 4)
    single = GraphDomain.from_mesh(faconv.icosahedral_mesh(2))
    with pytest.raises(DomainError, match=r"scale 1, but the graph has scales \[0\]"):
        m(randn(1, 162, 4), single)


def test_invalid_configs():
    with pytest.raises(ConfigError, match="scales"):
        faconv.GraphDWMixer(4, scales=[])
    with pytest.raises(ConfigError, match="scale"):
        faconv.GraphDWMixer(4, scales=[-1])
    with pytest.raises(ConfigError, match="combine"):
        faconv.GraphDWMixer(4, combine="max")


def test_transfer_refuses_stencils_the_basis_cannot_fit():
    grid = faconv.MultiScaleDilatedDWMixer(2, 5, (1,), se=None)
    with pytest.raises(ConfigError, match="cannot represent"):
        faconv.GraphDWMixer.from_grid_mixer(grid)
