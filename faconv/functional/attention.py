"""Scaled dot-product attention for the short, narrow heads of axial attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["dot_product_attention"]

# When training, above this many bytes of attention scores the explicit path falls back to
# PyTorch's fused kernel, which never materialises them (autograd keeps them here).
_EXPLICIT_MAX_BYTES = 1 << 28
# Sequences per chunk: about this many bytes of scores, so they stay in cache (and below
# glibc's mmap threshold, which would page-fault them in on every call).
_CHUNK_BYTES = 1 << 20


def dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(q kᵀ / √d) v`` over the last two dimensions, without masks.

    Equal to :func:`torch.nn.functional.scaled_dot_product_attention` (tests check it). On
    CPU the heads of axial attention are narrow (``d = C_b / heads``, e.g. 8) and short (a
    grid row or column): there plain batched products in cache-sized chunks of sequences
    train faster than PyTorch's flash kernel (forward + backward 34.9 against 43.4 ms at the
    benchmark's heads, torch 2.13; forward alone 9.6 against 8.6 ms), so they run explicitly; the value
    product runs as ``(vᵀ pᵀ)ᵀ``, whose output dimension is the sequence rather than the
    narrow head. On GPU, and when training with more than 256 MiB of scores (which autograd
    would keep), it calls PyTorch's kernel.

    Shapes:
        - q, k, v: ``(*batch, L, d)``.
        - output: ``(*batch, L, d)`` (possibly a non-contiguous view).
    """
    L, d = q.shape[-2], q.shape[-1]
    saves_scores = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
    score_bytes = q[..., 0].numel() * L * q.element_size()
    empty = q.numel() == 0  # an empty batch: PyTorch's kernel handles it
    if empty or q.device.type != "cpu" or (saves_scores and score_bytes > _EXPLICIT_MAX_BYTES):
        return F.scaled_dot_product_attention(q, k, v)
    batch = q.shape[:-2]
    q, k, v = (t.reshape(-1, L, d) for t in (q, k, v))  # softmax is slower on 4-d tensors
    q = q * d**-0.5
    step = max(1, _CHUNK_BYTES // (L * L * q.element_size()))
    outs = []
    # split, not slices: the backward of a split writes each chunk's gradient once, where
    # every slice's backward would build a zero-filled gradient of the whole tensor
    for qc, kc, vc in zip(q.split(step), k.split(step), v.split(step)):
        p = torch.bmm(qc, kc.transpose(1, 2)).softmax(dim=-1)
        outs.append(torch.bmm(vc.transpose(1, 2), p.transpose(1, 2)))  # (n, d, L)
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    return out.transpose(1, 2).view(*batch, L, d)
