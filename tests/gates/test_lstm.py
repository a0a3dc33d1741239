import pytest
import torch

import faconv
from faconv import ConfigError, DomainError
from faconv.testing import compare_tensors
from tests.conftest import randn


def _manual(gate, s, c, peep):
    a = s @ gate.proj.weight.T + gate.proj.bias
    F_ = gate.hidden_channels
    ai, af, ag, ao = a[..., :F_], a[..., F_ : 2 * F_], a[..., 2 * F_ : 3 * F_], a[..., 3 * F_ :]
    i = torch.sigmoid(ai + peep[0] * c)
    f = torch.sigmoid(af + peep[1] * c)
    c_new = f * c + i * torch.tanh(ag)
    o = torch.sigmoid(ao + peep[2] * c_new)
    return o * torch.tanh(c_new), c_new


@pytest.mark.parametrize("peephole", ["channel", "pixel", None])
def test_gate_equals_manual_peephole_lstm(peephole):
    gate = faconv.LSTMGate(5, 4, peephole=peephole, point_shape=(3, 2)).double()
    if gate.peephole_weight is not None:
        torch.nn.init.normal_(gate.peephole_weight)
        peep = gate.peephole_weight
    else:
        peep = torch.zeros(3, 4, dtype=torch.float64)
    s, c = randn(2, 3, 2, 5), randn(2, 3, 2, 4, seed=1)
    h, c_new = gate(s, c)
    h_ref, c_ref = _manual(gate, s, c, peep)
    compare_tensors(h, h_ref)
    compare_tensors(c_new, c_ref)


def test_forget_bias_starts_at_one_and_peepholes_at_zero():
    g = faconv.LSTMGate(3, 4)
    assert torch.equal(g.proj.bias[4:8], torch.ones(4))
    assert torch.equal(g.proj.bias[:4], torch.zeros(4)) and torch.equal(
        g.proj.bias[8:], torch.zeros(8)
    )
    assert torch.equal(g.peephole_weight, torch.zeros(3, 4))
    assert torch.equal(faconv.LSTMGate(3, 4, unit_forget_bias=False).proj.bias, torch.zeros(16))
    ln = faconv.LSTMGate(3, 4, norm="layer")
    assert torch.equal(ln.norm_bias[1], torch.ones(4))


def test_layer_norm_option_normalises_each_gate():
    g = faconv.LSTMGate(3, 4, norm="layer", peephole=None).double()
    s = randn(2, 5, 3) * 50
    a = g.proj(s).unflatten(-1, (4, 4))
    a_n = torch.nn.functional.layer_norm(a, (4,)) * g.norm_weight + g.norm_bias
    c = randn(2, 5, 4, seed=2)
    i, f, gg, _o = a_n.unbind(-2)
    c_ref = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
    compare_tensors(g(s, c)[1], c_ref)


def test_hard_sigmoid_is_keras3_definition():
    g = faconv.LSTMGate(2, 2, recurrent_activation="hard_sigmoid")
    x = torch.linspace(-4, 4, 17)
    compare_tensors(g._rec_act(x), torch.clamp(x / 6 + 0.5, 0, 1))
    g2 = faconv.LSTMGate(2, 2, recurrent_activation="hard_sigmoid_tf2")
    compare_tensors(g2._rec_act(x), torch.clamp(0.2 * x + 0.5, 0, 1))


def test_pixel_peephole_checks_point_shape():
    with pytest.raises(ConfigError, match="point_shape"):
        faconv.LSTMGate(3, 4, peephole="pixel")
    g = faconv.LSTMGate(3, 4, peephole="pixel", point_shape=(3, 2))
    with pytest.raises(DomainError, match=r"\(3, 2\)"):
        g(torch.randn(1, 4, 2, 3), torch.randn(1, 4, 2, 4))


def test_invalid_gate_configs():
    with pytest.raises(ConfigError, match="peephole"):
        faconv.LSTMGate(3, 4, peephole="diag")
    with pytest.raises(ConfigError, match="recurrent_activation"):
        faconv.LSTMGate(3, 4, recurrent_activation="sigmod")
    with pytest.raises(ConfigError, match="hidden_channels"):
        faconv.LSTMGate(3, 0)
