import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, GridDomain
from faconv.testing import compare_tensors
from tests.conftest import randn
from tests.strategies import dilation_sets, grid_cases


def _reference(mixer, x, periodic):
    """Per-channel, per-branch convolutions with explicit padding (no groups, no shared pad)."""
    k = mixer.kernel_size
    _B, _H, W, C = x.shape
    xc = x.permute(0, 3, 1, 2)
    branches = []
    for j, d in enumerate(mixer.dilations):
        p = d * (k - 1) // 2
        chans = []
        for ch in range(C):
            xi = xc[:, ch : ch + 1]
            if periodic:  # wrap by index arithmetic, then zero-pad rows
                idx = torch.arange(-p, W + p) % W
                xi = F.pad(xi[..., idx], (0, 0, p, p))
            else:
                xi = F.pad(xi, (p, p, p, p))
            w = mixer.weight[j, ch : ch + 1]  # (1, 1, k, k)
            chans.append(F.conv2d(xi, w, mixer.branch_bias[j, ch : ch + 1], dilation=d))
        branches.append(torch.cat(chans, 1))
    if mixer.combine == "sum":
        y = sum(branches).permute(0, 2, 3, 1)
    else:
        y = mixer.fuse(torch.cat(branches, 1).permute(0, 2, 3, 1))
    return y


@given(case=grid_cases(), dilations=dilation_sets(), k=st.sampled_from([1, 3, 5]),
       combine=st.sampled_from(["sum", "concat"]))  # fmt: skip
def test_equals_separate_per_channel_branches(case, dilations, k, combine):
    C = 3
    m = faconv.MultiScaleDilatedDWMixer(C, k, dilations, combine=combine, se=None).double()
    x = randn(case["batch"], case["height"], case["width"], C, seed=case["seed"])
    dom = GridDomain(case["height"], case["width"], periodic=case["periodic"])
    compare_tensors(m(x, dom), _reference(m, x, case["periodic"]))


def test_padding_modes_override_domain():
    x = randn(1, 5, 7, 2)
    m = faconv.MultiScaleDilatedDWMixer(2, 3, (1, 2), padding="zeros", se=None).double()
    periodic = GridDomain(5, 7, periodic=True)
    compare_tensors(m(x, periodic), _reference(m, x, periodic=False))
    m.padding = "circular"
    compare_tensors(m(x, GridDomain(5, 7)), _reference(m, x, periodic=True))


@given(shift=st.integers(1, 3), seed=st.integers(0, 1000))
def test_translation_equivariance_in_interior_with_zero_padding(shift, seed):
    m = faconv.MultiScaleDilatedDWMixer(2, 3, (1, 2), se=None).double()
    x = randn(1, 14, 15, 2, seed=seed)
    dom = GridDomain(14, 15)
    y, ys = m(x, dom), m(torch.roll(x, shift, 1), dom)
    margin = 2 + shift  # max dilation * (k - 1) / 2 plus the shift
    compare_tensors(ys[:, margin + shift : -margin], y[:, margin : -margin - shift])


def test_roll_equivariance_breaks_without_circular_padding():
    # the property is real: zero padding on a periodic field is not roll-equivariant
    m = faconv.MultiScaleDilatedDWMixer(2, 3, (1,), padding="zeros", se=None).double()
    x, dom = randn(1, 6, 8, 2), GridDomain(6, 8, periodic=True)
    assert not torch.allclose(m(torch.roll(x, 3, 2), dom), torch.roll(m(x, dom), 3, 2))


def test_invalid_configs_raise_clearly():
    with pytest.raises(ConfigError, match="odd"):
        faconv.MultiScaleDilatedDWMixer(4, kernel_size=4)
    with pytest.raises(ConfigError, match="at least one"):
        faconv.MultiScaleDilatedDWMixer(4, dilations=[])
    with pytest.raises(ConfigError, match="dilation"):
        faconv.MultiScaleDilatedDWMixer(4, dilations=[1, 0])
    with pytest.raises(ConfigError, match="valid values: 'sum', 'concat'"):
        faconv.MultiScaleDilatedDWMixer(4, combine="mean")
    with pytest.raises(ConfigError, match="padding"):
        faconv.MultiScaleDilatedDWMixer(4, padding="reflect")


def test_repr_shows_hyperparameters():
    r = repr(faconv.MultiScaleDilatedDWMixer(4, se=None))
    assert "channels=4, kernel_size=3, dilations=(1, 2, 4), combine='sum', padding='auto'" in r
