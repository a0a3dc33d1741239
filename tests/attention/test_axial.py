import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, GridDomain
from faconv.attention._reference import axial_reference
from faconv.testing import compare_tensors
from tests.conftest import randn


@given(H=st.integers(1, 6), W=st.integers(1, 6), heads=st.sampled_from([1, 2, 4]),
       mode=st.sampled_from(["parallel", "sequential"]), seed=st.integers(0, 999))  # fmt: skip
def test_axial_equals_full_attention_with_axis_masks(H, W, heads, mode, seed):
    if mode == "parallel" and heads % 2:
        heads *= 2
    m = faconv.AxialAttention(8, num_heads=heads, qkv_bias=True, mode=mode).double()
    x = randn(2, H, W, 8, seed=seed)
    compare_tensors(m(x, GridDomain(H, W)), axial_reference(m, x))


def test_row_step_only_mixes_within_rows():
    m = faconv.AxialAttention(4, num_heads=1, mode="sequential").double()
    x = randn(1, 4, 5, 4)
    x2 = x.clone()
    x2[0, 2, 3, 0] += 1.0  # one channel: LayerNorm cancels a shift of all channels
    diff = (m.row(x2, ("w",)) - m.row(x, ("w",))).abs().sum(-1)[0]
    assert diff[2].min() > 0 and diff[[0, 1, 3]].max() == 0


def test_parallel_reaches_the_cross_at_once_and_everything_in_two_applications():
    m = faconv.AxialAttention(4, num_heads=2).double()
    dom, x = GridDomain(4, 5), randn(1, 4, 5, 4)
    x2 = x.clone()
    x2[0, 1, 2, 0] += 1.0
    once = (m(x2, dom) - m(x, dom)).abs().sum(-1)[0]
    cross = torch.zeros(4, 5, dtype=torch.bool)
    cross[1, :], cross[:, 2] = True, True
    assert (once[cross] > 0).all() and (once[~cross] == 0).all()

    def twice(z):
        return m(z + m(z, dom), dom)

    assert ((twice(x2) - twice(x)).abs().sum(-1) > 0).all()


def test_parallel_needs_an_even_head_count():
    with pytest.raises(ConfigError, match="num_heads must be even"):
        faconv.AxialAttention(8, num_heads=1)


def test_global_reach_after_row_and_column():
    # one sequential application connects every pair of points (the teleconnection property)
    m = faconv.AxialAttention(4, num_heads=1, mode="sequential").double()
    x = randn(1, 4, 5, 4)
    x2 = x.clone()
    x2[0, 0, 0, 0] += 1.0
    diff = (m(x2, GridDomain(4, 5)) - m(x, GridDomain(4, 5))).abs().sum(-1)
    assert (diff > 0).all()


def test_permuting_rows_permutes_output():
    m = faconv.AxialAttention(4, num_heads=2).double()
    x, perm = randn(2, 5, 3, 4), torch.tensor([3, 0, 4, 1, 2])
    compare_tensors(m(x[:, perm], GridDomain(5, 3)), m(x, GridDomain(5, 3))[:, perm])


def test_head_configuration():
    assert faconv.AxialAttention(8, num_heads=6).block.qkv.out_features == 3 * 6 * 1
    with pytest.raises(ConfigError, match="head_dim must be an integer"):
        faconv.AxialAttention(8, num_heads=2, head_dim=0)
    m = faconv.AxialAttention(8, num_heads=3, head_dim=5, mode="sequential")
    assert m.row.qkv.out_features == 45
