"""The compiled CPU kernel of the fused gate: against a float64 reference and the eager path,
its two memory modes, determinism, and how it is built, cached and refused."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import faconv
from faconv.errors import ConfigError
from faconv.functional import fused_gate_lstm, native
from tests.gates.test_fused_lstm import _inputs, _reference

needs_kernel = pytest.mark.skipif(
    not native.available(), reason=f"the native gate kernel is not in use: {native.status()}"
)


def _node(y):
    """The fused gate's autograd node behind ``y`` (under the output's view)."""
    node = y.grad_fn
    while not hasattr(node, "native"):
        node = node.next_functions[0][0]
    return node


def _run(args, grads, **kw):
    """Outputs and the gradients of every leaf of one fused call."""
    args = [None if a is None else a.detach().requires_grad_() for a in args]
    h, c = fused_gate_lstm(*args, **kw)
    leaves = [a for a in args if a is not None]
    got = torch.autograd.grad((h * grads[0]).sum() + (c * grads[1]).sum(), leaves)
    return _node(h), [h.detach(), c.detach(), *got]


def _grads(n_lead, hid, seed):
    g = torch.Generator().manual_seed(seed + 1)
    return [torch.randn(*n_lead, hid, generator=g) for _ in range(2)]


@needs_kernel
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), cb=st.integers(1, 20), hid=st.integers(1, 20),
       bias=st.booleans(), peep=st.booleans(), save=st.booleans(),
       seed=st.integers(0, 999))  # fmt: skip
def test_native_matches_a_float64_reference(n, cb, hid, bias, peep, save, seed):
    # any point count (blocks of 8 and a remainder) and width (8-wide vectors and a tail)
    args = _inputs((n,), cb, hid, bias, peep, seed, dtype=torch.float32)
    grads = _grads((n,), hid, seed)
    node, got = _run(args, grads, save_gates=save)
    assert node.native  # the C kernel ran
    ref_args = [None if a is None else a.detach().double() for a in args]
    _, want = _run(ref_args, [g.double() for g in grads])
    for a, b in zip(got, want):
        scale = b.abs().max().item() + 1.0
        assert (a.double() - b).abs().max().item() <= 2e-5 * scale


@needs_kernel
def test_native_equals_the_eager_path_and_its_two_modes_agree_bit_for_bit():
    args = _inputs((4, 37), 16, 64, True, True, seed=3, dtype=torch.float32)
    grads = _grads((4, 37), 64, 3)
    _, kept = _run(args, grads, save_gates=True)
    node, recomputed = _run(args, grads, save_gates=False)
    assert node.native
    assert all(torch.equal(a, b) for a, b in zip(kept, recomputed))
    with native.disabled():
        node, eager = _run(args, grads, save_gates=True)
    assert not node.native
    for a, b in zip(kept, eager):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@needs_kernel
def test_native_is_deterministic_and_skips_frozen_inputs():
    args = _inputs((3, 50), 5, 16, True, True, seed=4, dtype=torch.float32)
    grads = _grads((3, 50), 16, 4)
    first, second = _run(args, grads)[1], _run(args, grads)[1]
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    s, c, w, b, p = (a.detach() for a in args)
    h, _ = fused_gate_lstm(s.requires_grad_(), c, w, b, p)  # only s needs a gradient
    assert _node(h).native
    (ds,) = torch.autograd.grad((h * grads[0]).sum(), [s])
    ref = s.detach().double().requires_grad_()
    h_ref, _ = _reference(ref, c.double(), w.double(), b.double(), p.double())
    (ds_ref,) = torch.autograd.grad((h_ref * grads[0].double()).sum(), [ref])
    torch.testing.assert_close(ds.double(), ds_ref, rtol=1e-4, atol=1e-5)


@needs_kernel
def test_layer_runs_the_kernel_and_matches_the_eager_layer():
    torch.manual_seed(0)
    layer = faconv.FAConvLSTM2D(3, 16, 4, return_sequences=True)
    torch.nn.init.normal_(layer.cell.gate.peephole_weight, std=0.3)
    x = torch.randn(2, 5, 9, 11, 3)

    def run():
        layer.zero_grad()
        y = layer(x)
        y.square().mean().backward()
        return [y.detach(), *(p.grad.clone() for p in layer.parameters())]

    fast = run()
    with native.disabled():
        eager = run()
    for a, b in zip(fast, eager):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_float64_and_other_dtypes_keep_the_eager_path():
    args = _inputs((6,), 3, 4, True, True, seed=5)  # float64: gradcheck's dtype
    node, _ = _run(args, _grads((6,), 4, 5))
    assert not node.native


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """A build state of its own, in an empty cache; the real one is restored afterwards."""
    monkeypatch.setenv("FACONV_CACHE_DIR", str(tmp_path))
    native._reset()
    yield tmp_path
    native.set_enabled(None)
    native._reset()


def test_a_missing_compiler_falls_back_or_raises_when_required(fresh_build, monkeypatch):
    monkeypatch.setenv("CC", str(fresh_build / "no-such-cc"))
    monkeypatch.setenv("FACONV_NATIVE", "auto")
    assert native.library() is None and not native.available()
    assert "not built, the eager path runs" in native.status() and "no-such-cc" in native.status()
    args = _inputs((9,), 3, 8, True, True, seed=6, dtype=torch.float32)
    node, _ = _run(args, _grads((9,), 8, 6))  # still computes, on the eager path
    assert not node.native
    monkeypatch.setenv("FACONV_NATIVE", "1")
    with pytest.raises(native.NativeBuildError, match="FACONV_NATIVE=1 requires"):
        native.library()
    monkeypatch.setenv("FACONV_NATIVE", "fast")
    with pytest.raises(ConfigError, match=r"\['auto', '0', '1'\]"):
        native.library()
    monkeypatch.setenv("FACONV_NATIVE", "0")
    assert native.library() is None and "disabled" in native.status()


@needs_kernel
def test_the_kernel_is_built_once_into_the_cache(fresh_build):
    lib = native.library()
    built = list(fresh_build.glob("faconv_native-*.so"))
    assert lib is not None and len(built) == 1 and not list(fresh_build.glob(".*.tmp"))
    stamp = built[0].stat().st_mtime_ns
    native._reset()  # a new process: loads the cached library, no compile
    assert native.library() is not None
    assert built[0].stat().st_mtime_ns == stamp and len(list(fresh_build.glob("*.so"))) == 1


def test_a_foreign_openmp_runtime_keeps_the_eager_path_unless_forced(fresh_build, monkeypatch):
    # torch on Intel's or LLVM's OpenMP: the kernels (libgomp) would add a second thread pool
    monkeypatch.setattr(native, "_foreign_openmp", lambda: "libiomp5")
    monkeypatch.setenv("FACONV_NATIVE", "auto")
    assert native.library() is None and "libiomp5" in native.status()
    args = _inputs((9,), 3, 8, True, True, seed=7, dtype=torch.float32)
    assert not _run(args, _grads((9,), 8, 7))[0].native
    monkeypatch.setenv("FACONV_NATIVE", "1")  # forced: built and used all the same
    try:
        assert native.library() is not None
    except native.NativeBuildError:
        pytest.skip("no C compiler here")
