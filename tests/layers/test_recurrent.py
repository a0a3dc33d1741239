import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, GridDomain, InputError
from faconv.testing import compare_tensors
from tests.conftest import randn


@st.composite
def layer_cases(draw):
    filters = draw(st.sampled_from([4, 8, 12]))
    return dict(
        B=draw(st.integers(1, 2)), T=draw(st.integers(1, 7)), H=draw(st.integers(2, 7)),
        W=draw(st.integers(2, 7)), C=draw(st.integers(1, 4)), filters=filters,
        cb=draw(st.integers(1, 6)),
        dilations=draw(st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True)),
        K=draw(st.integers(1, 5)), heads=draw(st.sampled_from([2, 4])),
        periodic=draw(st.booleans()), seed=draw(st.integers(0, 9999)),
    )  # fmt: skip


def _layer(c, **kw):
    return faconv.FAConvLSTM2D(
        c["C"], c["filters"], c["cb"], dilations=c["dilations"], attn_every=c["K"],
        num_heads=c["heads"], periodic=c["periodic"], **kw,
    ).double()  # fmt: skip


@given(c=layer_cases())
def test_shapes_for_drawn_hyperparameters(c):
    layer = _layer(c, return_sequences=True, return_state=True)
    out, h, cc = layer(randn(c["B"], c["T"], c["H"], c["W"], c["C"], seed=c["seed"]))
    assert out.shape == (c["B"], c["T"], c["H"], c["W"], c["filters"])
    assert h.shape == cc.shape == (c["B"], c["H"], c["W"], c["filters"])
    compare_tensors(out[:, -1], h)
    last = _layer(c)
    last.load_state_dict(layer.state_dict())
    compare_tensors(last(randn(c["B"], c["T"], c["H"], c["W"], c["C"], seed=c["seed"])), h)


@given(c=layer_cases())
def test_layer_equals_manual_unroll_of_its_cell(c):
    layer = _layer(c, return_sequences=True)
    xs = randn(c["B"], c["T"], c["H"], c["W"], c["C"], seed=c["seed"])
    dom = GridDomain(c["H"], c["W"], periodic=c["periodic"])
    state, outs = None, []
    for t in range(c["T"]):
        y, state = layer.cell(xs[:, t], dom, state, t=t)
        outs.append(y)
    compare_tensors(layer(xs), torch.stack(outs, 1))


@given(c=layer_cases(), cuts=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_chunked_stateful_run_equals_full_run(c, cuts):
    T = sum(cuts)
    xs = randn(c["B"], T, c["H"], c["W"], c["C"], seed=c["seed"])
    full = _layer(c, return_sequences=True)
    chunked = _layer(c, return_sequences=True, stateful=True)
    chunked.load_state_dict(full.state_dict())
    pieces, start = [], 0
    for n in cuts:
        pieces.append(chunked(xs[:, start : start + n]))
        start += n
    compare_tensors(torch.cat(pieces, 1), full(xs))
    chunked.reset_states()
    compare_tensors(chunked(xs[:, :2]), full(xs[:, :2]))


def test_attention_schedule_counts_absolute_time():
    cell = faconv.FAConvLSTMCell(2, 4, attn_every=3)
    assert [t for t in range(10) if cell.attends_at(t)] == [0, 3, 6, 9]
    assert not faconv.FAConvLSTMCell(2, 4, attention=None).attends_at(0)
    # the explicit time_offset of a non-stateful call lines the schedule up as well
    layer = faconv.FAConvLSTM2D(2, 4, attn_every=3, return_sequences=True, return_state=True)
    xs = torch.randn(1, 5, 4, 4, 2)
    full = layer(xs)[0]
    _, h, c = layer(xs[:, :2])
    rest = layer(xs[:, 2:], initial_state=(h, c), time_offset=2)[0]
    torch.testing.assert_close(rest, full[:, 2:])
    shifted = layer(xs[:, 2:], initial_state=(h, c))[
        0
    ]  # restarting the clock at 0 changes the schedule
    assert not torch.allclose(shifted, full[:, 2:])


def test_attention_feedback_option():
    x, dom = torch.randn(1, 4, 5, 2), GridDomain(4, 5)
    cell = faconv.FAConvLSTMCell(2, 4, attn_feedback=False, attn_on="hidden")
    y, state = cell(x, dom, t=0)
    assert not torch.allclose(y, state.h)  # output attended, recurrence not
    cell.attn_feedback = True
    y, state = cell(x, dom, t=0)
    torch.testing.assert_close(y, state.h)


def test_go_backwards_processes_reversed_sequence():
    layer = faconv.FAConvLSTM2D(2, 4, return_sequences=True, attn_every=1)
    back = faconv.FAConvLSTM2D(2, 4, return_sequences=True, attn_every=1, go_backwards=True)
    back.load_state_dict(layer.state_dict())
    xs = torch.randn(2, 5, 3, 4, 2)
    torch.testing.assert_close(back(xs), layer(xs.flip(1)))


def test_channels_first_layout():
    layer = faconv.FAConvLSTM2D(3, 8, data_format="channels_first", return_state=True)
    out, h, c = layer(torch.randn(2, 4, 3, 5, 6))
    assert out.shape == h.shape == c.shape == (2, 8, 5, 6)


def test_recurrent_takes_any_cell_config_and_roundtrips():
    spec = {"type": "recurrent", "cell": {"type": "convlstm", "in_channels": 2,
            "hidden_channels": 3}, "return_sequences": False}  # fmt: skip
    layer = faconv.build(spec)
    assert isinstance(layer.cell, faconv.ConvLSTMCell)
    assert faconv.build(layer.to_config()).to_config() == layer.to_config()
    out = layer(torch.randn(1, 3, 4, 4, 2), GridDomain(4, 4))
    assert out.shape == (1, 4, 4, 3)


def test_layer_configs_roundtrip_with_identical_outputs():
    from faconv.testing import assert_config_roundtrip

    xs = torch.randn(2, 5, 6, 7, 3)
    for layer in (
        faconv.FAConvLSTM2D(3, 8, 4, dilations=(1, 3), attn_every=2, periodic=True),
        faconv.FAConvLSTM2D(
            3, 8, peephole="pixel", point_shape=(6, 7), attention=None, se_ratio=None
        ),
        faconv.ConvLSTM2D(3, 8, (3, 1), padding="same", recurrent_activation="hard_sigmoid"),
    ):
        assert_config_roundtrip(layer, lambda m: m(xs))


def test_layers_trace_shapes_on_the_meta_device():
    """Meta tensors (shape inference, deferred initialisation) hold no values: the value
    checks pass them and the layers give the output shape without computing."""
    x = torch.randn(2, 3, 6, 7, 3, device="meta")
    for layer in (
        faconv.FAConvLSTM2D(3, 8, attn_every=2),
        faconv.ConvLSTM2D(3, 8, 3, padding="same"),
    ):
        out = layer.to("meta")(x)
        assert out.shape == (2, 6, 7, 8) and out.is_meta


def test_bad_inputs_raise_clear_errors():
    layer = faconv.FAConvLSTM2D(3, 8)
    with pytest.raises(InputError, match=r"rank-5 input \(B, T, H, W, C\)"):
        layer(torch.randn(2, 6, 7, 3))
    with pytest.raises(InputError, match=r"has 4 channels .* built for 3$"):
        layer(torch.randn(1, 2, 6, 7, 4))
    with pytest.raises(InputError, match=r"dim 2 has 3: channels-first data\? .*movedim\(2, -1\)"):
        layer(torch.randn(1, 2, 3, 6, 7))  # (B, T, C, H, W) given to a channels-last layer
    x = torch.randn(1, 2, 6, 7, 3)
    x[0, 1, 2, 3, 0] = float("nan")
    with pytest.raises(InputError, match="1 NaN and 0 Inf"):
        layer(x)
    x[0, 1, 2, 3, 0] = float("inf")
    with pytest.raises(InputError, match="0 NaN and 1 Inf"):
        layer(x)
    with pytest.raises(InputError, match="dtype torch.int64"):
        layer(torch.ones(1, 2, 6, 7, 3, dtype=torch.long))
    # finite but so large that a layer norm's square overflows: an error, not a NaN output
    huge = torch.randn(1, 2, 6, 7, 3) * 1e25
    with pytest.raises(InputError, match=r"values up to \|x\| = .*e\+25.*Normalise the inputs"):
        layer(huge)
    assert torch.isfinite(layer(huge * 1e-11)).all()  # 1e14 still runs, to a finite output
    assert torch.isfinite(layer.double()(huge.double())).all()  # float64 has the range
    layer.float()
    with pytest.raises(InputError, match="no time steps"):
        layer(torch.randn(1, 0, 6, 7, 3))
    with pytest.raises(InputError, match=r"sparse_coo tensor; .*\.to_dense\(\)"):
        layer(torch.randn(1, 2, 6, 7, 3).to_sparse())
    with pytest.raises(InputError, match="state.h has shape"):
        layer(
            torch.randn(1, 2, 6, 7, 3),
            initial_state=(torch.zeros(1, 6, 6, 8), torch.zeros(1, 6, 7, 8)),
        )
    with pytest.raises(faconv.DomainError, match="point dims"):
        layer(torch.randn(1, 2, 6, 7, 3), domain=GridDomain(6, 8))
    stateful = faconv.FAConvLSTM2D(3, 8, stateful=True)
    stateful(torch.randn(2, 2, 6, 7, 3))
    with pytest.raises(InputError, match="reset_states"):
        stateful(torch.randn(3, 2, 6, 7, 3))


def test_grid_component_on_graph_domain_is_refused():
    def FakeGraph():  # a 12-node ring
        nodes = torch.arange(12)
        return faconv.GraphDomain(nodes, (nodes + 1) % 12, 12)

    cell = faconv.FAConvLSTMCell(2, 4)
    with pytest.raises(faconv.DomainError, match=r"supports \['grid'\] domains.*'graph'"):
        cell(torch.randn(1, 12, 2), FakeGraph())
    assert cell.domains == frozenset({"grid"})
    # the pointwise-only composition (SE as the mixer, no attention) runs on any domain
    pointwise = faconv.FAConvLSTMCell(2, 4, mixer="squeeze_excite", attention=None)
    y, _ = pointwise(torch.randn(1, 12, 2), FakeGraph())
    assert y.shape == (1, 12, 4)


@given(T=st.integers(1, 9), chunk=st.integers(1, 5), K=st.integers(1, 3),
       cell=st.sampled_from(["fa_convlstm", "convlstm"]), seed=st.integers(0, 99))  # fmt: skip
def test_checkpointed_unroll_equals_plain_values_and_gradients(T, chunk, K, cell, seed):
    spec = {"type": cell, "in_channels": 2, "hidden_channels": 4}
    if cell == "fa_convlstm":
        spec["attn_every"] = K
    plain = faconv.Recurrent(spec, return_state=True).double()
    ckpt = faconv.Recurrent(spec, return_state=True, checkpoint_steps=chunk).double()
    ckpt.load_state_dict(plain.state_dict())
    xs, dom = randn(2, T, 3, 5, 2, seed=seed), GridDomain(3, 5, periodic=True)
    outs = []
    for layer in (plain, ckpt):
        x = xs.clone().requires_grad_()
        y, _h, c = layer(x, dom)
        loss = y.sin().sum() + c.square().sum()
        grads = torch.autograd.grad(loss, [x, *layer.parameters()])
        outs.append((y, c, grads))
    compare_tensors(outs[1][0], outs[0][0])
    compare_tensors(outs[1][1], outs[0][1])
    for a, b in zip(outs[1][2], outs[0][2]):
        compare_tensors(a, b)


def test_checkpoint_steps_validation_and_config():
    with pytest.raises(ConfigError, match="checkpoint_steps"):
        faconv.FAConvLSTM2D(2, 4, checkpoint_steps=0)
    layer = faconv.FAConvLSTM2D(2, 4, checkpoint_steps=30)
    assert faconv.build(layer.to_config()).checkpoint_steps == 30


def _graph_node_names(out: torch.Tensor) -> set[str]:
    names, seen, todo = set(), set(), [out.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(fn.name())
        todo.extend(nxt for nxt, _ in fn.next_functions)
    return names


@pytest.mark.parametrize("layer_cls", [faconv.FAConvLSTM2D, faconv.ConvLSTM2D])
def test_unroll_backward_stays_linear_in_time(layer_cls):
    # Indexing the projected sequence per step (u[:, t]) gives every step a full-sequence zero
    # gradient in backward, O(T^2) work; the unroll must split it with one unbind instead.
    layer = layer_cls(3, 4, 3, return_sequences=True)
    names = _graph_node_names(layer(torch.randn(1, 5, 4, 4, 3, requires_grad=True)))
    assert "UnbindBackward0" in names
    assert "SelectBackward0" not in names
