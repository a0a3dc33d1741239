import math

import pytest
import torch
import torch.nn.functional as F

import faconv
from faconv import ConfigError, GridDomain, State
from faconv.attention._reference import axial_reference
from faconv.testing import compare_tensors
from tests.conftest import randn


def _fill_deterministic(module):
    """Constant, position-dependent initializers (Keras golden-test style)."""
    with torch.no_grad():
        for i, (_, p) in enumerate(sorted(module.named_parameters())):
            n = torch.arange(p.numel(), dtype=torch.float64)
            p.copy_((0.3 * torch.sin(0.37 * n + i)).view_as(p))


def _reference_step(cell, x, dom, h, c, t):
    """The FAConvLSTM equations written out from the paper notes, with independent pieces."""
    u = x @ cell.in_proj.weight.T + cell.in_proj.bias + h @ cell.hid_proj.weight.T
    m = cell.mixer
    uc = u.permute(0, 3, 1, 2)
    s = 0
    for j, d in enumerate(m.dilations):
        p = d * (m.kernel_size - 1) // 2
        idx = torch.arange(-p, uc.shape[-1] + p) % uc.shape[-1]
        up = F.pad(uc[..., idx] if dom.periodic else F.pad(uc, (p, p)), (0, 0, p, p))
        s = s + F.conv2d(up, m.weight[j], m.branch_bias[j], dilation=d, groups=uc.shape[1])
    s = s.permute(0, 2, 3, 1)
    w = torch.cos(torch.deg2rad(torch.tensor(dom.lat, dtype=torch.float64)))
    pooled = (s * w[None, :, None, None]).sum((1, 2)) / (w.sum() * s.shape[2])
    z = torch.relu(pooled @ m.se.fc1.weight.T + m.se.fc1.bias) @ m.se.fc2.weight.T + m.se.fc2.bias
    s = s * torch.sigmoid(z)[:, None, None, :]
    attend = t % cell.attn_every == 0
    if attend and cell.attn_on == "bottleneck":
        s = s + cell.attn_scale * axial_reference(cell.attention, s)
    g = cell.gate
    a = s @ g.proj.weight.T + g.proj.bias
    Fh = cell.hidden_channels
    ai, af, ag, ao = (a[..., k * Fh : (k + 1) * Fh] for k in range(4))
    pw = g.peephole_weight
    i = torch.sigmoid(ai + pw[0] * c)
    f = torch.sigmoid(af + pw[1] * c)
    c_new = f * c + i * torch.tanh(ag)
    h_new = torch.sigmoid(ao + pw[2] * c_new) * torch.tanh(c_new)
    if attend and cell.attn_on == "hidden":
        h_new = h_new + cell.attn_scale * axial_reference(cell.attention, h_new)
    return h_new, c_new


@pytest.mark.parametrize("attn_on", ["bottleneck", "hidden"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("periodic", [False, True])
def test_cell_step_equals_written_out_equations(periodic, fused, attn_on):
    cell = faconv.FAConvLSTMCell(
        3, 8, 4, attn_every=2, gate={"type": "lstm", "fused": fused}, attn_on=attn_on
    ).double()
    _fill_deterministic(cell)
    dom = GridDomain(5, 6, periodic=periodic, lat=[-40, -20, 0, 20, 40])
    x, h, c = randn(2, 5, 6, 3), randn(2, 5, 6, 8, seed=1), randn(2, 5, 6, 8, seed=2)
    for t in (0, 1):
        y, st = cell(x, dom, State(h, c), t=t)
        h_ref, c_ref = _reference_step(cell, x, dom, h, c, t)
        compare_tensors(y, h_ref)
        compare_tensors(st.c, c_ref)


_HIDDEN_ATTENTION = {
    "attn_on": "hidden",
    "attention": {"type": "axial", "num_heads": 4, "mode": "sequential"},
}


@pytest.mark.parametrize("variant", ["default", "hidden"])
def test_golden_numbers(variant):
    # Pinned from this implementation after it matched the written-out equations above; a
    # change here means the cell math changed. "hidden" is the 0.1 default (attention on the
    # hidden state, sequential axial) and keeps its numbers from before the change.
    kwargs = _HIDDEN_ATTENTION if variant == "hidden" else {}
    cell = faconv.FAConvLSTMCell(3, 8, 4, attn_every=2, **kwargs).double()
    _fill_deterministic(cell)
    layer = faconv.Recurrent(cell)
    n = torch.arange(2 * 4 * 5 * 6 * 3, dtype=torch.float64)
    xs = torch.sin(0.1 * n).view(2, 4, 5, 6, 3)
    out = layer(xs, GridDomain(5, 6, periodic=True))
    got = [out.sum().item(), out.abs().sum().item(), out[0, -1, 2, 3, :3].tolist()]
    expected = GOLDEN[variant]
    assert math.isclose(got[0], expected[0], rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(got[1], expected[1], rel_tol=1e-9)
    compare_tensors(
        torch.tensor(got[2], dtype=torch.float64), torch.tensor(expected[2], dtype=torch.float64)
    )


GOLDEN = {
    "hidden": [
        -3.7552757990743046,
        173.7367392210913,
        [-0.14960402897688121, -0.004042697242093249, 0.010046155478229114],
    ],
    "default": [
        141.13988628888515,
        155.21953858610942,
        [0.12360065850950298, 0.11438633179321765, 0.053472454086766284],
    ],
}


def test_bottleneck_default_and_wiring():
    cell = faconv.FAConvLSTMCell(7, 64)
    assert cell.bottleneck_channels == 16
    assert cell.mixer.channels == 16 and cell.gate.in_channels == 16
    assert cell.attention.channels == 16 and cell.attn_scale.shape == (16,)
    assert faconv.FAConvLSTMCell(7, 64, attn_on="hidden").attention.channels == 64
    with pytest.raises(ConfigError, match="attn_feedback=False needs attn_on='hidden'"):
        faconv.FAConvLSTMCell(7, 64, attn_feedback=False)
    assert faconv.FAConvLSTMCell(7, 2, attention=None).bottleneck_channels == 1


@pytest.mark.parametrize("attention", [None, "axial"])
def test_paper_shapes_have_far_fewer_parameters_than_convlstm(attention):
    # issue 6: at least 20x fewer, with the (bottleneck) axial attention included
    fa = faconv.FAConvLSTM2D(7, 64, 16, attention=attention)
    conv = faconv.ConvLSTM2D(7, 64, 3, padding="same")
    n_fa = sum(p.numel() for p in fa.parameters())
    n_conv = sum(p.numel() for p in conv.parameters())
    assert n_conv == 4 * 64 * (9 * (7 + 64) + 1)  # Keras: 4F (k^2 (C + F) + 1)
    assert n_conv / n_fa > 20


def test_invalid_cell_configs():
    with pytest.raises(ConfigError, match="attn_every must be an integer >= 1"):
        faconv.FAConvLSTMCell(3, 8, attn_every=0)
    with pytest.raises(ConfigError, match="bottleneck_channels"):
        faconv.FAConvLSTMCell(3, 8, bottleneck_channels=-2)
    with pytest.raises(ConfigError, match="in_channels"):
        faconv.FAConvLSTMCell(0, 8)
    with pytest.raises(ConfigError, match="unknown attention 'axail'"):
        faconv.FAConvLSTMCell(3, 8, attention="axail")
    with pytest.raises(ConfigError, match="layer_scale_init"):
        faconv.FAConvLSTMCell(3, 8, layer_scale_init="big")
    # parts of two geometries: said when the cell is built, naming both parts
    with pytest.raises(
        ConfigError,
        match=r"share no geometry \(mixer GraphDWMixer works on \['graph'\], attention AxialAttention works on \['grid'\]\)",
    ):
        faconv.FAConvLSTMCell(3, 8, mixer="graph_dw")
    faconv.FAConvLSTMCell(3, 8, mixer="graph_dw", attention="graph_sparse")  # one geometry
    faconv.FAConvLSTMCell(3, 8, mixer="graph_dw", attention=None)
