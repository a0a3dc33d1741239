"""A fused 1×1-gate + peephole-LSTM step: the hot loop of every factorized cell.

:func:`fused_gate_lstm` computes exactly what ``LSTMGate`` computes with the reference ops
(``Linear`` → ``chunk`` → :func:`~faconv.functional.lstm_update`), but

* in **tiles of points**, so the ``4·C_hid`` gate pre-activations of a tile stay in cache
  instead of making a round trip through memory (the gate is memory-bound: ``C_b`` is small);
* with **in-place** activations, so one step allocates only ``h`` and ``c``;
* with a hand-written backward that **recomputes** the gates from the bottleneck input
  ``s`` (``C_b`` channels) instead of saving them (``4·C_hid`` channels): autograd keeps
  ``s``, ``c_{t-1}`` and ``c_t`` per step, which is what makes a 365-step year trainable.
  ``save_gates=True`` keeps the activated gates and ``σ(-2 c_t)`` instead (``5·C_hid``
  more values per point and step) and skips the recompute: faster training where memory
  allows (short sequences), bit for bit the same gradients (the kept values are the ones the
  recompute would produce).

On CPU in float32 the whole step runs instead in a compiled C kernel
(:mod:`faconv.functional.native`: one pass per point, built on first use), with the same two
memory modes and the same numbers to float round-off.

It supports the sigmoid/tanh LSTM with per-channel or no peepholes; other variants use the
reference path (``LSTMGate`` decides). Tests check outputs and gradients against the
reference, including float64 ``gradcheck``. Double backward is not supported.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

from faconv.functional import native

__all__ = ["SAVE_GATES_BUDGET_BYTES", "autocast_active", "fused_gate_lstm", "steps_alive"]

#: ``save_gates="auto"`` keeps the gates when those of every step of the sequence (see
#: :func:`steps_alive`) fit in this many bytes: a 64×128 grid, batch 4, 64 filters and 8 steps
#: (335 MB) does; a 365-step year at 48×48 (4.3 GB) does not, and recomputes.
SAVE_GATES_BUDGET_BYTES = 1 << 30

_STEPS_ALIVE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "faconv_steps_alive", default=None
)


@contextlib.contextmanager
def steps_alive(steps: int | None) -> Iterator[None]:
    """Declare that ``steps`` gate steps will keep their saved tensors until the backward
    (the recurrent loop declares its sequence), so that ``save_gates="auto"`` can tell what
    keeping the gates would cost; ``None``: unknown, or memory first (activation
    checkpointing), so ``"auto"`` recomputes."""
    token = _STEPS_ALIVE.set(None if steps is None else int(steps))
    try:
        yield
    finally:
        _STEPS_ALIVE.reset(token)


def _resolve_save(save_gates: bool | str, points: int, hidden: int, x: torch.Tensor) -> bool:
    """``save_gates`` as a bool: ``"auto"`` keeps the gates (``5·hidden`` values per point)
    when the declared steps' worth fits in :data:`SAVE_GATES_BUDGET_BYTES`; outside a
    declared sequence (a lone cell step) it recomputes."""
    if save_gates != "auto":
        return bool(save_gates)
    steps = _STEPS_ALIVE.get()
    if steps is None:
        return False
    return steps * points * 5 * hidden * x.element_size() <= SAVE_GATES_BUDGET_BYTES


# Bytes of gate pre-activations per tile on CPU: fits in cache, few enough Python calls.
_CPU_TILE_BYTES = 1 << 22
# The backward holds about twice the forward's tile buffers: half the rows per tile (measured
# ~4 % faster at 64 x 128 x 64 channels than the forward's tile, a quarter slower again).
_BWD_TILE = 0.5


def autocast_active(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (torch < 2.4 has no device argument); False
    for a device type autocast does not know (``meta``)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # no autocast for this device type
        return False
    except TypeError:  # pragma: no cover - torch 2.3
        if device_type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def _tile_rows(n: int, gate_width: int, x: torch.Tensor, tile_rows: int | None) -> int:
    if tile_rows is not None:
        return max(1, int(tile_rows))
    if x.device.type != "cpu":  # GPUs want one big launch per op
        return max(1, n)
    return max(64, _CPU_TILE_BYTES // (gate_width * x.element_size()))


# the factor 2 of tanh x = 2 σ(2x) - 1 for the g gate rides on its weights
_GATE_SCALE = torch.tensor([1.0, 1.0, 2.0, 1.0]).view(4, 1, 1)
# ... and the factor 4 of 1 - tanh² = 4 σ(2x)(1 - σ(2x)) on its gradient; the i gate's
# gradient is computed negated (one pass fewer, see the backward) and its -1 rides here too
_GRAD_SCALE = torch.tensor([-1.0, 1.0, 4.0, 1.0]).view(4, 1, 1)


def _augmented(
    s: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(s, W, b) -> ([s, 1], [W | b]ᵀ split by gate (4, C_b + 1, F))``: the bias rides in
    the matmul, so a gate block is written once instead of bias-filled and then accumulated;
    the g block is doubled (see ``_GATE_SCALE``)."""
    F_ = weight.shape[0] // 4
    if bias is not None:
        s = torch.cat((s, s.new_ones(s.shape[0], 1)), dim=1)
        weight = torch.cat((weight, bias.unsqueeze(1)), dim=1)
    w = (weight.view(4, F_, -1).transpose(1, 2) * _GATE_SCALE.to(weight)).contiguous()
    return s, w  # (4, C_b', F), contiguous


def _gates(
    s: torch.Tensor,
    w: torch.Tensor,
    c_prev: torch.Tensor,
    peep: torch.Tensor | None,
    a: torch.Tensor,
    c_out: torch.Tensor,
) -> None:
    """Activated gates of one tile, gate-major, in place into ``a (4, n, F)``:
    ``a = [i, f, σ(2 a_g), o]`` (so ``g = tanh(a_g) = 2 a[2] - 1``), and ``c_t`` into
    ``c_out``. ``s`` and ``w (4, C_b', F)`` come from :func:`_augmented`.

    tanh goes through the sigmoid (``tanh x = 2 σ(2x) - 1``, exact in exact arithmetic,
    within 2.4e-7 in float32): torch's CPU tanh costs about three sigmoids."""
    torch.bmm(s.expand(4, *s.shape), w, out=a)
    if peep is not None:
        a[:2].addcmul_(peep[:2].unsqueeze(1), c_prev)
    a[:3].sigmoid_()
    i, f, sg, o = a.unbind(0)
    # c = f c_prev + i g = f c_prev - i + 2 i σ(2 a_g)
    torch.mul(f, c_prev, out=c_out).sub_(i).addcmul_(i, sg, value=2.0)
    if peep is not None:
        o.addcmul_(peep[2], c_out)
    o.sigmoid_()


def _output_into(
    o: torch.Tensor, c: torch.Tensor, out: torch.Tensor, v: torch.Tensor | None = None
) -> torch.Tensor:
    """``out = o · tanh(c) = o - 2 o σ(-2c)``: two passes fewer than ``o * (2 σ(2c) - 1)``.
    ``σ(-2c)`` goes to ``v`` when given (kept for the backward), else through ``out``."""
    v = out if v is None else v
    torch.mul(c, -2.0, out=v).sigmoid_()
    return torch.addcmul(o, o, v, value=-2.0, out=out)


def _native_ok(*tensors: torch.Tensor | None) -> bool:
    """Whether the C kernel (:mod:`faconv.functional.native`) takes this call: float32 CPU
    tensors, and the kernel enabled and built."""
    return (
        all(t is None or (t.device.type == "cpu" and t.dtype == torch.float32) for t in tensors)
        and native.available()
    )


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _native_params(weight, bias, peephole, F_):
    """The C kernel's weight ``(C_b, 4F)``, bias and peepholes (zeros where absent)."""
    wt = weight.t().contiguous()
    b = weight.new_zeros(4 * F_) if bias is None else bias.contiguous()
    pe = weight.new_zeros(3, F_) if peephole is None else peephole
    return wt, b, pe


def _native_forward(ctx, s, c_prev, weight, bias, peephole, save_gates):
    n, cb, F_ = s.shape[0], s.shape[1], c_prev.shape[1]
    wt, b, pe = _native_params(weight, bias, peephole, F_)
    h, c = s.new_empty(n, F_), s.new_empty(n, F_)
    gates = s.new_empty(n, 4 * F_) if save_gates else None  # point-major [i, f, g, o]
    v = s.new_empty(n, F_) if save_gates else None
    native.library().faconv_gate_forward(
        n, cb, F_, *map(_ptr, (s, c_prev, wt, b, pe, h, c, gates, v)), native.threads()
    )
    saved = (gates, v) if save_gates else ()
    ctx.save_for_backward(s, c_prev, weight, bias, peephole, c, *saved)
    ctx.native = True
    return h, c


def _native_backward(ctx, grad_h, grad_c):
    s, c_prev, weight, bias, peephole, c, *saved = ctx.saved_tensors
    n, cb, F_ = s.shape[0], s.shape[1], c_prev.shape[1]
    wt, b, pe = _native_params(weight, bias, peephole, F_)
    gates, v = saved if saved else (None, None)
    ds, dc_prev = torch.empty_like(s), torch.empty_like(c_prev)
    dwt, db, dp = torch.zeros_like(wt), torch.zeros_like(b), torch.zeros_like(pe)
    grads = (grad_h.contiguous(), grad_c.contiguous())
    native.library().faconv_gate_backward(
        n,
        cb,
        F_,
        *map(_ptr, (s, c_prev, c, wt, b, pe, gates, v, *grads, ds, dc_prev, dwt, db, dp)),
        native.threads(),
    )
    need = ctx.needs_input_grad
    return (
        ds if need[0] else None,
        dc_prev if need[1] else None,
        dwt.t() if need[2] else None,
        db if bias is not None and need[3] else None,
        dp if peephole is not None and need[4] else None,
        None,
        None,
    )


class _FusedGateLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, c_prev, weight, bias, peephole, tile_rows, save_gates):
        ctx.native = False
        if _native_ok(s, c_prev, weight, bias, peephole):
            return _native_forward(ctx, s, c_prev, weight, bias, peephole, save_gates)
        n, width = s.shape[0], weight.shape[0]
        F_ = width // 4
        s_aug, w_aug = _augmented(s, weight, bias)
        h, c = s.new_empty(n, F_), s.new_empty(n, F_)
        rows = min(n, _tile_rows(n, width, s, tile_rows))
        # kept for the backward: every tile's activated gates and v = σ(-2 c_t) (which the
        # output needs anyway: no extra pass); else one tile
        gates = s.new_empty(4, n if save_gates else rows, F_)
        v = s.new_empty(n, F_) if save_gates else None
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            a = gates[:, lo:hi] if save_gates else gates[:, : hi - lo]
            _gates(s_aug[lo:hi], w_aug, c_prev[lo:hi], peephole, a, c[lo:hi])
            _output_into(a[3], c[lo:hi], h[lo:hi], None if v is None else v[lo:hi])
        saved = (gates, v) if save_gates else ()
        ctx.save_for_backward(s, c_prev, weight, bias, peephole, c, *saved)
        ctx.rows = rows
        return h, c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h, grad_c):
        if ctx.native:
            return _native_backward(ctx, grad_h, grad_c)
        s, c_prev, weight, bias, peephole, c, *saved = ctx.saved_tensors
        n, width = s.shape[0], weight.shape[0]
        F_ = width // 4
        # the g gate's derivative 1 - g² = 4 σ(2 a_g)(1 - σ(2 a_g)): its factor 4 rides on the
        # weights (ds) and is applied once to dw, db at the end
        w = (weight.view(4, F_, -1) * _GRAD_SCALE.to(weight)).contiguous()  # (4, F, C_b)
        s_aug, w_aug = _augmented(s, weight, bias)
        need_s, need_c, need_w, need_b, need_p = ctx.needs_input_grad[:5]
        ds = torch.empty_like(s) if need_s else None
        dc_prev = torch.empty_like(c_prev) if need_c else None
        dw = torch.zeros(4, F_, s.shape[1], dtype=s.dtype, device=s.device) if need_w else None
        db = torch.zeros(4, F_, dtype=s.dtype, device=s.device) if need_b else None
        dp = torch.zeros_like(peephole) if need_p else None
        rows = max(1, int(ctx.rows * _BWD_TILE))
        da = s.new_empty(4, rows, F_)
        buf = None if saved else s.new_empty(4, rows, F_)
        ds_buf = s.new_empty(4, rows, s.shape[1])  # per-gate terms of ds, summed over gates
        v_buf, t_buf, go_buf, dc_buf = (s.new_empty(rows, F_) for _ in range(4))
        for lo in range(0, n, rows):
            m = min(n, lo + rows) - lo
            sl = slice(lo, lo + m)
            cp, ct, gh = c_prev[sl], c[sl], grad_h[sl]
            d = da[:, :m]
            if saved:  # the forward's activated gates and v = σ(-2 c_t), read only
                a, v = saved[0][:, sl], saved[1][sl]
            else:  # recompute [i, f, σ(2 a_g), o] (o's peephole reads the saved c_t) and v
                a = buf[:, :m]
                torch.bmm(s_aug[sl].expand(4, m, s_aug.shape[1]), w_aug, out=a)
                if peephole is not None:
                    a[:2].addcmul_(peephole[:2].unsqueeze(1), cp)
                    a[3].addcmul_(peephole[2], ct)
                a.sigmoid_()
                v = torch.mul(ct, -2.0, out=v_buf[:m]).sigmoid_()
            i, f, sg, o = a.unbind(0)
            # g_h tanh c = g_h (1 - 2v), one pass
            ght = torch.addcmul(gh, gh, v, value=-2.0, out=t_buf[:m])
            go = torch.mul(gh, o, out=go_buf[:m])
            # dc = g_c + g_h o (1 - tanh² c) = g_c + 4 g_h o v (1 - v)  (+ peephole of o)
            vv = torch.addcmul(v, v, v, value=-1.0, out=v_buf[:m])
            dc = torch.addcmul(grad_c[sl], go, vv, value=4.0, out=dc_buf[:m])
            # da = multiplier ⊙ σ'(a), σ'(a) = a - a² for all four gates at once (one pass),
            # written next to the activations still needed
            torch.addcmul(a, a, a, value=-1.0, out=d)
            d[3].mul_(ght)  # da_o = g_h tanh(c) σ'(o)
            if peephole is not None:
                dc.addcmul_(d[3], peephole[2])
            # -dc · g · σ'(i) = e - 2 e σ(2 a_g), e = dc σ'(i): g = 2 σ(2 a_g) - 1 without
            # its own passes (the sign is undone by _GRAD_SCALE and below)
            d[0].mul_(dc).addcmul_(d[0], sg, value=-2.0)
            d[1].mul_(dc).mul_(cp)  # dc · c_prev · σ'(f)
            d[2].mul_(dc).mul_(i)  # dc · i · σ'(σ(2 a_g)), times 4 (see w)
            if need_c:
                dcp = torch.mul(dc, f, out=dc_prev[sl])
                if peephole is not None:
                    dcp.addcmul_(d[0], peephole[0], value=-1.0).addcmul_(d[1], peephole[1])
            if need_p:
                dp[:2] += (d[:2] * cp).sum(1)
                dp[2] += (d[3] * ct).sum(0)
            # all four gates in one batched product each (four small ones cost more)
            if need_s:
                torch.sum(torch.bmm(d, w, out=ds_buf[:, :m]), 0, out=ds[sl])
            if need_w:
                dw.baddbmm_(d.transpose(1, 2), s[sl].expand(4, m, s.shape[1]))
            if need_b:
                db += d.sum(1)
        if need_p:
            dp[0].neg_()
        scale = _GRAD_SCALE.to(s).view(4, 1)
        dw = None if dw is None else (dw * scale.unsqueeze(-1)).view_as(weight)
        db = None if db is None else (db * scale).view(width)
        return ds, dc_prev, dw, db, dp, None, None


def fused_gate_lstm(
    s: torch.Tensor,
    c_prev: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    peephole: torch.Tensor | None = None,
    tile_rows: int | None = None,
    save_gates: bool | str = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fused ``(h, c) = LSTM(W s + b, c_prev)`` with sigmoid gates, tanh activations and
    optional per-channel peepholes (Keras gate order ``i, f, g, o``).

    Equal (to float round-off) to ``lstm_update(*(s @ W.T + b).chunk(4, -1), c_prev,
    peephole=peephole)``.

    Args:
        s: the bottleneck ``(..., C_b)``.
        c_prev: previous cell state ``(..., C_hid)`` (same leading dims).
        weight: ``(4·C_hid, C_b)``; bias: ``(4·C_hid,)`` or ``None``.
        peephole: ``(3, C_hid)`` weights ``[w_ci, w_cf, w_co]`` or ``None``.
        tile_rows: points per tile of the eager path; default: about 4 MiB of gate
            pre-activations on CPU, all points at once on GPU. The C kernel
            (:mod:`faconv.functional.native`, float32 on CPU) runs in blocks of 8 points.
        save_gates: keep the activated gates for the backward instead of recomputing them
            (``5·C_hid`` more values per point; only when a gradient will be taken), or
            ``"auto"``: when the steps declared by :func:`steps_alive` fit in
            :data:`SAVE_GATES_BUDGET_BYTES`. Bit for bit the same results either way.

    Shapes:
        - output: ``(h, c)``, each ``(..., C_hid)``.
    """
    lead = c_prev.shape[:-1]
    F_ = c_prev.shape[-1]
    s2 = s.reshape(-1, s.shape[-1]).contiguous()
    c2 = c_prev.reshape(-1, F_).contiguous()
    h, c = _FusedGateLSTM.apply(
        s2,
        c2,
        weight.contiguous(),
        bias,
        None if peephole is None else peephole.contiguous(),
        tile_rows,
        torch.is_grad_enabled()
        and _resolve_save(save_gates, s2.shape[0], F_, s2)
        and any(t is not None and t.requires_grad for t in (s, c_prev, weight, bias, peephole)),
    )
    return h.view(*lead, F_), c.view(*lead, F_)
