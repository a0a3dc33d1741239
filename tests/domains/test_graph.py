import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import DomainError, GraphDomain
from faconv.testing import compare_tensors
from tests.conftest import randn


def _sph(lat_deg, lon_deg):
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    return [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]


def test_from_mesh_pool_is_area_weighted():
    mesh = faconv.icosahedral_mesh(2)
    dom = GraphDomain.from_mesh(mesh)
    assert dom.kind == "graph" and dom.point_shape == (162,)
    x = randn(2, 162, 3)
    expected = (x * mesh.areas[None, :, None]).sum(1) / mesh.areas.sum()
    compare_tensors(dom.pool(x), expected)
    compare_tensors(GraphDomain(dom.senders, dom.receivers, 162).pool(x), x.mean(1))


def test_from_edge_index_and_pyg():
    from torch_geometric.data import Data

    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    d = GraphDomain.from_edge_index(ei)
    assert d.num_nodes == 3 and torch.equal(d.edge_index, ei)
    p = GraphDomain.from_pyg(Data(edge_index=ei, num_nodes=5, pos=torch.randn(5, 3)))
    assert p.num_nodes == 5 and p.pos.shape == (5, 3)


def test_edge_vectors_in_receiver_tangent_frame():
    pos = torch.tensor([_sph(0, 0), _sph(0, 10), _sph(10, 0), _sph(90, 0)], dtype=torch.float64)
    d = GraphDomain(torch.tensor([1, 2, 0]), torch.tensor([0, 0, 3]), 4, pos=pos)
    ev = d.edge_vectors()
    assert ev[0, 0] > 0 and abs(ev[0, 1]) < 1e-12  # sender due east of the receiver
    assert ev[1, 1] > 0 and abs(ev[1, 0]) < 1e-12  # sender due north
    assert torch.isfinite(ev[2]).all()  # receiver at the pole still gets a frame
    mesh = faconv.icosahedral_mesh(3)
    ev = GraphDomain.from_mesh(mesh).edge_vectors()
    chord = (mesh.vertices[mesh.senders] - mesh.vertices[mesh.receivers]).norm(dim=1)
    ratio = ev.norm(dim=1) / chord
    assert (ratio > 0.99).all() and (ratio <= 1 + 1e-12).all()


def test_bad_graphs_raise_clear_errors():
    with pytest.raises(DomainError, match=r"node index 7 outside \[0, 5\)"):
        GraphDomain(torch.tensor([0, 7]), torch.tensor([1, 2]), 5)
    with pytest.raises(DomainError, match=r"node index -1 outside"):
        GraphDomain(torch.tensor([0, 1]), torch.tensor([-1, 2]), 5)
    with pytest.raises(DomainError, match="must pair up"):
        GraphDomain(torch.tensor([0, 1]), torch.tensor([1]), 5)
    with pytest.raises(DomainError, match="must hold integer values"):
        GraphDomain(torch.tensor([0.0]), torch.tensor([1.0]), 5)
    with pytest.raises(DomainError, match="finite"):
        GraphDomain(
            torch.tensor([0]), torch.tensor([1]), 2, pos=torch.tensor([[0.0, 1.0], [math.nan, 0.0]])
        )
    with pytest.raises(DomainError, match="positive"):
        GraphDomain(torch.tensor([0]), torch.tensor([1]), 2, areas=torch.tensor([1.0, -1.0]))
    with pytest.raises(DomainError, match=r"\(2, E\)"):
        GraphDomain.from_edge_index(torch.tensor([0, 1, 2]))
    dom = GraphDomain(torch.tensor([0]), torch.tensor([1]), 4)
    with pytest.raises(
        DomainError, match=r"point dims \(5,\) but the graph domain has point shape \(4,\)"
    ):
        faconv.FAConvLSTMCell(2, 4, mixer="squeeze_excite", attention=None)(
            torch.randn(1, 5, 2), dom
        )


def test_grid_components_refuse_graph_domains():
    dom = GraphDomain.from_mesh(faconv.icosahedral_mesh(1))
    with pytest.raises(DomainError, match=r"supports \['grid'\] domains"):
        faconv.FAConvLSTMCell(2, 4)(torch.randn(1, 42, 2), dom)


@given(seed=st.integers(0, 999))
def test_pointwise_cell_is_node_permutation_equivariant_on_a_mesh(seed):
    # Every pointwise part (bottleneck, SE with the area-weighted squeeze, gate) runs on a mesh
    # unchanged; relabelling the nodes relabels the output.
    mesh = faconv.icosahedral_mesh(1)
    dom = GraphDomain.from_mesh(mesh)
    perm = torch.randperm(42, generator=torch.Generator().manual_seed(seed))
    inv = torch.argsort(perm)
    pdom = GraphDomain(inv[dom.senders], inv[dom.receivers], 42, dom.pos[perm], dom.areas[perm])
    cell = faconv.FAConvLSTMCell(3, 8, mixer="squeeze_excite", attention=None).double()
    x, h, c = randn(2, 42, 3, seed=seed), randn(2, 42, 8, seed=1), randn(2, 42, 8, seed=2)
    y, st_ = cell(x, dom, faconv.State(h, c))
    yp, stp = cell(x[:, perm], pdom, faconv.State(h[:, perm], c[:, perm]))
    compare_tensors(yp, y[:, perm])
    compare_tensors(stp.c, st_.c[:, perm])


def test_num_scales_declares_empty_scales():
    small = GraphDomain.from_grid(2, 2, 3, dilations=(1, 2))  # dilation 2 has no in-range tap
    assert small.scales == [0, 1] and int(small.edge_scale.max()) == 0
    assert GraphDomain.from_mesh(faconv.icosahedral_mesh(2, multimesh=True)).scales == [0, 1, 2]
    with pytest.raises(DomainError, match="num_scales must be an integer >= 2"):
        GraphDomain(
            torch.tensor([0]), torch.tensor([1]), 2, edge_scale=torch.tensor([1]), num_scales=1
        )


@pytest.mark.parametrize(
    ("component", "domain", "x"),
    [
        (faconv.GraphDWMixer(4), faconv.GridDomain(3, 4), torch.randn(1, 3, 4, 4)),
        (faconv.SparseGraphAttention(4, 2), faconv.GridDomain(3, 4), torch.randn(1, 3, 4, 4)),
        (
            faconv.MultiScaleDilatedDWMixer(4),
            GraphDomain.from_mesh(faconv.icosahedral_mesh(0)),
            torch.randn(1, 12, 4),
        ),
        (
            faconv.AxialAttention(4, 2),
            GraphDomain.from_mesh(faconv.icosahedral_mesh(0)),
            torch.randn(1, 12, 4),
        ),
    ],
)
def test_spatial_components_refuse_the_wrong_kind_of_domain(component, domain, x):
    with pytest.raises(
        DomainError, match=rf"supports \[.*\] domains, but was given a '{domain.kind}'"
    ):
        component(x, domain)
    with pytest.raises(DomainError, match="domain is missing"):
        component(x)


def test_laplacians_vanish_on_constants_and_agree_on_a_lattice():
    # grid (periodic) and its 4-neighbour lattice graph give the same Laplacian
    H, W = 5, 7
    x = randn(2, H, W, 3)
    grid = faconv.GridDomain(H, W, periodic=True)
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    snd, rcv = [], []
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        r2, c2 = rows + dr, (cols + dc) % W
        keep = (r2 >= 0) & (r2 < H)
        snd.append((r2 * W + c2)[keep])
        rcv.append((rows * W + cols)[keep])
    graph = GraphDomain(torch.cat(snd), torch.cat(rcv), H * W)
    compare_tensors(graph.laplacian(x.reshape(2, H * W, 3)).reshape(2, H, W, 3), grid.laplacian(x))
    for dom, shape in ((grid, (1, H, W, 2)), (faconv.GridDomain(H, W), (1, H, W, 2)),
                       (GraphDomain.from_mesh(faconv.icosahedral_mesh(2)), (1, 162, 2))):  # fmt: skip
        c = torch.full(shape, 3.0, dtype=torch.float64)
        assert dom.laplacian(c).abs().max() < 1e-12
    # a bump has a negative Laplacian at its peak
    bump = torch.zeros(1, H, W, 1, dtype=torch.float64)
    bump[0, 2, 3] = 1.0
    assert grid.laplacian(bump)[0, 2, 3, 0] == -4.0
