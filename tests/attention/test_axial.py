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
       seed=st.integers(0, 999))  # fmt: skip
def test_axial_equals_full_attention_with_axis_masks(H, W, heads, seed):
    m = faconv.AxialAttention(8, num_heads=heads, qkv_bias=True).double()
    x = randn(2, H, W, 8, seed=seed)
    compare_tensors(m(x, GridDomain(H, W)), axial_reference(m, x))


def test_row_step_only_mixes_within_rows():
    m = faconv.AxialAttention(4, num_heads=1).double()
    x = randn(1, 4, 5, 4)
    x2 = x.clone()
    x2[0, 2, 3, 0] += 1.0  # one channel: LayerNorm cancels a shift of all channels
    diff = (m.row(x2, "w") - m.row(x, "w")).abs().sum(-1)[0]
    assert diff[2].min() > 0 and diff[[0, 1, 3]].max() == 0


def test_global_reach_after_row_and_column():
    # one step of axial attention connects every pair of points (the teleconnection property)
    m = faconv.AxialAttention(4, num_heads=1).double()
    x = randn(1, 4, 5, 4)
    x2 = x.clone()
    x2[0, 0, 0, 0] += 1.0
    diff = (m(x2, GridDomain(4, 5)) - m(x, GridDomain(4, 5))).abs().sum(-1)
    assert (diff > 0).all()


def test_permuting_rows_permutes_output():
    m = faconv.AxialAttention(4, num_heads=2).double()
    x, perm = randn(2, 5, 3, 4), torch.tensor([3, 0, 4, 1, 2])
    compare_tensors(m(x[:, perm], GridDomain(5, 3)), m(x, GridDomain(5, 3))[:, perm])


def test_head_configuration_errors():
    with pytest.raises(ConfigError, match="not divisible by num_heads=3"):
        faconv.AxialAttention(8, num_heads=3)
    assert faconv.AxialAttention(8, num_heads=3, head_dim=5).row.qkv.out_features == 45
