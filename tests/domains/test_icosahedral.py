import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, icosahedral_mesh

levels = st.integers(0, 4)


@given(r=levels)
def test_closed_form_counts(r):
    m = icosahedral_mesh(r)
    assert m.num_nodes == 10 * 4**r + 2
    assert m.faces.shape == (20 * 4**r, 3)
    assert m.senders.shape == m.receivers.shape == (2 * 30 * 4**r,)


@given(r=levels)
def test_unit_norm_and_lat_lon(r):
    m = icosahedral_mesh(r)
    torch.testing.assert_close(m.vertices.norm(dim=1), torch.ones(m.num_nodes, dtype=torch.float64))
    lat, lon = torch.deg2rad(m.lat), torch.deg2rad(m.lon)
    xyz = torch.stack([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], 1)
    torch.testing.assert_close(xyz, m.vertices)
    assert (m.lon >= -180).all() and (m.lon < 180).all()


@given(r=levels)
def test_faces_counter_clockwise_from_outside(r):
    m = icosahedral_mesh(r)
    a, b, c = (m.vertices[m.faces[:, i]] for i in range(3))
    assert ((a * torch.linalg.cross(b, c)).sum(1) > 0).all()


@given(r=st.integers(0, 3))
def test_coarse_nodes_are_a_prefix(r):
    coarse, fine = icosahedral_mesh(r), icosahedral_mesh(r + 1)
    assert torch.equal(fine.vertices[: coarse.num_nodes], coarse.vertices)


@given(r=st.integers(1, 4))
def test_degrees_five_at_original_vertices_six_elsewhere(r):
    m = icosahedral_mesh(r)
    deg = torch.bincount(m.receivers, minlength=m.num_nodes)
    assert (deg[:12] == 5).all() and (deg[12:] == 6).all()


@given(r=levels, multimesh=st.booleans())
def test_edges_symmetric_without_self_loops(r, multimesh):
    m = icosahedral_mesh(r, multimesh=multimesh)
    assert (m.senders != m.receivers).all()
    fwd = set(zip(m.senders.tolist(), m.receivers.tolist()))
    assert fwd == set(zip(m.receivers.tolist(), m.senders.tolist()))
    assert len(fwd) == m.senders.shape[0]  # no duplicates


@given(r=levels)
def test_node_areas_sum_to_four_pi(r):
    m = icosahedral_mesh(r)
    assert (m.areas > 0).all()
    assert math.isclose(m.areas.sum().item(), 4 * math.pi, rel_tol=1e-12)
    assert m.areas.max() / m.areas.min() < 2.0  # quasi-uniform


def test_multimesh_is_the_union_of_all_levels():
    r = 3
    mm = icosahedral_mesh(r, multimesh=True)
    assert mm.senders.shape[0] == 2 * sum(30 * 4**k for k in range(r + 1))
    edges = set(zip(mm.senders.tolist(), mm.receivers.tolist()))
    for k in range(r + 1):
        level = icosahedral_mesh(k)
        assert set(zip(level.senders.tolist(), level.receivers.tolist())) <= edges


def test_faces_match_convex_hull_oracle():
    spatial = pytest.importorskip("scipy.spatial")
    m = icosahedral_mesh(2)
    hull = spatial.ConvexHull(m.vertices.numpy())
    ours = {frozenset(f) for f in m.faces.tolist()}
    assert ours == {frozenset(s) for s in hull.simplices.tolist()}


def test_bad_level():
    with pytest.raises(ConfigError, match="level"):
        icosahedral_mesh(-1)
    with pytest.raises(ConfigError, match="level"):
        icosahedral_mesh(2.0)
    assert faconv.icosahedral_mesh is icosahedral_mesh
