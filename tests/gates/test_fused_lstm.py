"""The fused gate+LSTM step against the reference ops: values, gradients, tiles, fallbacks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv.functional import fused_gate_lstm, lstm_update
from faconv.functional.fused_lstm import steps_alive
from faconv.testing import compare_tensors
from tests.conftest import randn


def _reference(s, c, w, b, p):
    a = torch.nn.functional.linear(s, w, b)
    return lstm_update(*a.chunk(4, dim=-1), c, peephole=p)


def _inputs(n_lead, cb, hid, bias, peep, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=g, dtype=dtype)).requires_grad_()

    s, c = r(*n_lead, cb), r(*n_lead, hid, scale=2.0)
    w = r(4 * hid, cb, scale=0.7)
    return s, c, w, (r(4 * hid) if bias else None), (r(3, hid, scale=0.5) if peep else None)


@given(lead=st.lists(st.integers(1, 5), min_size=1, max_size=3), cb=st.integers(1, 6),
       hid=st.integers(1, 7), bias=st.booleans(), peep=st.booleans(),
       tile=st.sampled_from([None, 1, 3, 64]), seed=st.integers(0, 999),
       save=st.booleans())  # fmt: skip
def test_fused_equals_reference_values_and_gradients(lead, cb, hid, bias, peep, tile, seed, save):
    args = _inputs(lead, cb, hid, bias, peep, seed)
    h, c = fused_gate_lstm(*args, tile_rows=tile, save_gates=save)
    h_ref, c_ref = _reference(*args)
    compare_tensors(h, h_ref)
    compare_tensors(c, c_ref)
    # gradients of a loss that uses both outputs
    gh, gc = torch.randn_like(h), torch.randn_like(c)
    leaves = [a for a in args if a is not None]
    got = torch.autograd.grad((h * gh).sum() + (c * gc).sum(), leaves)
    want = torch.autograd.grad((h_ref * gh).sum() + (c_ref * gc).sum(), leaves)
    for a, b in zip(got, want):
        compare_tensors(a, b)


@given(frozen=st.lists(st.booleans(), min_size=5, max_size=5), seed=st.integers(0, 99))
def test_fused_gradients_with_frozen_inputs(frozen, seed):
    # only what requires grad is differentiated (e.g. a frozen bias, or weights alone): each
    # returned gradient still equals the reference
    args = _inputs((2, 6), 3, 4, True, True, seed)
    args = [a.detach().requires_grad_(not f) for a, f in zip(args, frozen)]
    leaves = [a for a in args if a.requires_grad]
    if not leaves:
        return
    gh = torch.randn(2, 6, 4, dtype=torch.float64)
    got = torch.autograd.grad((fused_gate_lstm(*args, tile_rows=5)[0] * gh).sum(), leaves)
    want = torch.autograd.grad((_reference(*args)[0] * gh).sum(), leaves)
    for a, b in zip(got, want):
        compare_tensors(a, b)


@pytest.mark.parametrize("tile", [None, 4])
@pytest.mark.parametrize("save", [False, True])
def test_fused_passes_gradcheck(tile, save):
    args = _inputs((3, 5), 3, 4, True, True, seed=0)
    assert torch.autograd.gradcheck(
        lambda *a: fused_gate_lstm(*a, tile_rows=tile, save_gates=save), args
    )


def test_fused_float32_close_to_reference():
    args = _inputs((4, 33), 16, 64, True, True, seed=1, dtype=torch.float32)
    h, c = fused_gate_lstm(*args)
    h_ref, c_ref = _reference(*args)
    torch.testing.assert_close(h, h_ref, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(c, c_ref, atol=2e-6, rtol=1e-5)


def test_fused_keeps_only_small_tensors_for_backward():
    # the gates are recomputed in backward: autograd saves s, c_prev and c, never 4F channels
    s, c, w, b, p = _inputs((64,), 2, 32, True, True, seed=2, dtype=torch.float32)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(
        lambda t: saved.append(t.numel()) or t, lambda t: t
    ):
        fused_gate_lstm(s, c, w, b, p)
    assert max(saved) <= 64 * 32 and 4 * 32 * 64 not in saved


def test_saved_gates_trade_memory_for_the_recompute():
    s, c, w, b, p = _inputs((64,), 2, 32, True, True, seed=2, dtype=torch.float32)

    def saved_sizes(**kw):
        sizes = []
        with torch.autograd.graph.saved_tensors_hooks(
            lambda t: sizes.append(t.numel()) or t, lambda t: t
        ):
            h, c_t = fused_gate_lstm(s, c, w, b, p, **kw)
        return sorted(sizes), (h, c_t)

    lean, (h0, c0) = saved_sizes()
    kept, (h1, c1) = saved_sizes(save_gates=True)
    assert sorted(kept) == sorted(lean + [4 * 64 * 32, 64 * 32])  # the gates and σ(2 c_t)
    assert torch.equal(h0, h1) and torch.equal(c0, c1)  # the forward is the same
    with torch.no_grad():  # nothing is kept without a gradient to take
        assert saved_sizes(save_gates=True)[0] == []
    assert saved_sizes(save_gates="auto")[0] == lean  # a lone step: no sequence declared
    with steps_alive(10):  # 10 steps x 64 points x 5 x 32 channels x 4 bytes fit in 1 GiB
        assert sorted(saved_sizes(save_gates="auto")[0]) == sorted(kept)


def _saved_by(layer, x):
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(
        lambda t: sizes.append(t.numel()) or t, lambda t: t
    ):
        y = layer(x)
    return sizes, y


def test_auto_keeps_the_gates_of_a_sequence_that_fits_the_budget(monkeypatch):
    from faconv.functional import fused_lstm

    x = torch.randn(2, 5, 6, 7, 3)
    gates = 4 * 2 * 6 * 7 * 8  # one step's activated gates: 4 x points x filters
    layer = faconv.FAConvLSTM2D(3, 8, return_sequences=True)
    assert layer.save_gates == "auto" and faconv.build(layer.to_config()).save_gates == "auto"
    assert _saved_by(layer, x)[0].count(gates) == 5  # every step kept its gates
    monkeypatch.setattr(fused_lstm, "SAVE_GATES_BUDGET_BYTES", 5 * 2 * 6 * 7 * 5 * 8 * 4 - 1)
    assert _saved_by(layer, x)[0].count(gates) == 0  # one byte over: recomputed
    # the same numbers bit for bit, whichever path: values and every gradient
    runs = []
    for save in (False, True):
        torch.manual_seed(0)
        lay = faconv.FAConvLSTM2D(3, 8, return_sequences=True, save_gates=save)
        torch.nn.init.normal_(lay.cell.gate.peephole_weight)
        y = lay(x)
        y.square().sum().backward()
        runs.append([y.detach(), *(p.grad for p in lay.parameters())])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_gate_uses_fused_path_only_where_it_applies():
    s, c = randn(2, 3, 5), randn(2, 3, 4, seed=1)
    fused = faconv.LSTMGate(5, 4).double()
    plain = faconv.LSTMGate(5, 4, fused=False).double()
    plain.load_state_dict(fused.state_dict())
    torch.nn.init.normal_(fused.peephole_weight)
    plain.peephole_weight.data.copy_(fused.peephole_weight)
    assert fused._fusable and not plain._fusable
    for a, b in zip(fused(s, c), plain(s, c)):
        compare_tensors(a, b)
    # variants the fused step does not cover run the reference ops
    for kw in ({"norm": "layer"}, {"recurrent_activation": "hard_sigmoid"},
               {"peephole": "pixel", "point_shape": [3]}):  # fmt: skip
        assert not faconv.LSTMGate(5, 4, **kw)._fusable
    # mixed dtypes (e.g. autocast outputs) fall back too
    assert not fused._fuse_now(s.float(), c)


def test_gate_config_round_trip_keeps_fused_flag():
    gate = faconv.LSTMGate(5, 4, fused=False)
    assert faconv.build(gate.to_config()).fused is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fused_on_gpu_equals_cpu():
    args = _inputs((4, 500), 16, 64, True, True, seed=3, dtype=torch.float32)
    h, c = fused_gate_lstm(*args)
    h_gpu, c_gpu = fused_gate_lstm(*(a.detach().cuda() for a in args))
    torch.testing.assert_close(h_gpu.cpu(), h.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c_gpu.cpu(), c.detach(), atol=1e-5, rtol=1e-5)


def test_auto_recomputes_under_activation_checkpointing(monkeypatch):
    # checkpointing asks for memory: the chunks recompute their gates, in both passes
    from faconv.functional import fused_lstm

    decisions = []
    resolve = fused_lstm._resolve_save
    monkeypatch.setattr(
        fused_lstm, "_resolve_save", lambda *a: decisions.append(resolve(*a)) or decisions[-1]
    )
    x = torch.randn(2, 6, 6, 7, 3)
    for chunk, kept in ((None, True), (3, False)):
        decisions.clear()
        layer = faconv.FAConvLSTM2D(3, 8, return_sequences=True, checkpoint_steps=chunk)
        layer(x).sum().backward()  # with checkpointing the chunks' forwards run again here
        assert len(decisions) == (6 if chunk is None else 12) and set(decisions) == {kept}
