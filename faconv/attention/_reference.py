"""Dense reference implementations used by the tests as ground truth for optimised attention."""

from __future__ import annotations

import math

import torch

__all__ = ["axial_reference", "dense_masked_attention", "graph_attention_reference"]


def dense_masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor
) -> torch.Tensor:
    """Plain softmax attention over all tokens, restricted by a boolean ``allowed`` mask.

    Shapes:
        - q, k, v: ``(B, n, L, d)``; allowed: ``(L, L)``, True where query i may see key j.
        - output: ``(B, n, L, d)``.
    """
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def axial_reference(module, x: torch.Tensor) -> torch.Tensor:
    """AxialAttention computed as full ``(H W)²`` attention with axis-restricted masks (one
    mask per head in ``"parallel"`` mode)."""
    B, H, W, _ = x.shape
    rows = torch.arange(H).repeat_interleave(W)  # token index -> row
    cols = torch.arange(W).repeat(H)  # token index -> column
    same = {"w": rows[:, None] == rows[None, :], "h": cols[:, None] == cols[None, :]}

    def block_step(block, inp, axes):
        q, k, v = block.qkv_heads(inp)  # (B, H, W, n, d)
        q, k, v = (t.reshape(B, H * W, block.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        heads = [
            dense_masked_attention(q[:, j : j + 1], k[:, j : j + 1], v[:, j : j + 1], same[a])
            for j, a in enumerate(axes)
        ]
        o = torch.cat(heads, dim=1)  # (B, n, HW, d)
        return block.merge(o.transpose(1, 2).reshape(B, H, W, -1))

    if module.mode == "parallel":
        half = module.num_heads // 2
        return block_step(module.block, x, ("w",) * half + ("h",) * half)
    u_row = block_step(module.row, x, ("w",) * module.num_heads)
    u_col = block_step(module.col, x + u_row, ("h",) * module.num_heads)
    return u_row + u_col


def graph_attention_reference(module, x: torch.Tensor, domain) -> torch.Tensor:
    """SparseGraphAttention computed densely: full ``N × N`` attention masked by adjacency."""
    B, N, _ = x.shape
    snd, rcv = module.neighbourhood(domain)
    allowed = torch.zeros(N, N, dtype=torch.bool)
    allowed[rcv, snd] = True  # query i (receiver) may see key j (sender)
    q, k, v = (t.transpose(1, 2) for t in module.proj.qkv_heads(x))  # (B, n, N, d)
    o = dense_masked_attention(q, k, v, allowed)
    return module.proj.merge(o.transpose(1, 2).reshape(B, N, -1))
