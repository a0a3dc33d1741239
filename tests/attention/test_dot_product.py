"""The explicit, chunked CPU attention against PyTorch's fused kernel: values and gradients."""

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import faconv.functional.attention as attn
from faconv.functional import dot_product_attention
from faconv.testing import compare_tensors


def _qkv(batch, L, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [
        (2.0 * torch.randn(*batch, L, d, generator=g, dtype=dtype)).requires_grad_()
        for _ in range(3)
    ]


@given(
    batch=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    L=st.integers(1, 12),
    d=st.integers(1, 9),
    chunk_bytes=st.sampled_from([1, 200, 1 << 20]),
    seed=st.integers(0, 2**16),
)
def test_equals_sdpa_values_and_grads(batch, L, d, chunk_bytes, seed):
    old = attn._CHUNK_BYTES
    attn._CHUNK_BYTES = chunk_bytes  # 1 byte: one sequence per chunk; 1 MiB: one chunk
    try:
        q, k, v = _qkv(batch, L, d, seed)
        out = dot_product_attention(q, k, v)
        ref = F.scaled_dot_product_attention(q, k, v)
        compare_tensors(out, ref)
        w = torch.randn_like(ref)
        g_out = torch.autograd.grad((out * w).sum(), (q, k, v))
        g_ref = torch.autograd.grad((ref * w).sum(), (q, k, v))
        for a, b in zip(g_out, g_ref):
            compare_tensors(a, b)
    finally:
        attn._CHUNK_BYTES = old


def test_large_training_scores_use_the_fused_kernel(monkeypatch):
    calls = []
    real = F.scaled_dot_product_attention
    monkeypatch.setattr(
        attn.F, "scaled_dot_product_attention", lambda *a: calls.append(1) or real(*a)
    )
    monkeypatch.setattr(attn, "_EXPLICIT_MAX_BYTES", 100)
    q, k, v = _qkv([3], 8, 4, 0, torch.float32)
    with torch.no_grad():
        dot_product_attention(q, k, v)  # inference keeps no scores: explicit path
    assert calls == []
    dot_product_attention(q, k, v)  # 3·8·8·4 bytes of scores > 100, kept for backward
    assert calls == [1]
