"""An independent NumPy implementation of Keras 3 ConvLSTM2D (channels_last), written from the
Keras equations: TF "same"/"valid" padding, gate order i, f, c, o, recurrent conv with stride 1
and "same" padding. Shares no code with faconv."""

import numpy as np


def _pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def conv2d_nhwc(x, w, stride=(1, 1), padding="valid", dilation=(1, 1)):
    """x (B, H, W, C), w (kh, kw, C, O) -> (B, Ho, Wo, O), cross-correlation like TF."""
    kh, kw = w.shape[:2]
    if padding == "same":
        (pt, pb), (pl, pr) = (
            _pads(x.shape[1], kh, stride[0], dilation[0]),
            _pads(x.shape[2], kw, stride[1], dilation[1]),
        )
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    Hp, Wp = x.shape[1:3]
    Ho = (Hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (Wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((x.shape[0], Ho, Wo, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            patch = x[:, r0 : r0 + stride[0] * (Ho - 1) + 1 : stride[0],
                      c0 : c0 + stride[1] * (Wo - 1) + 1 : stride[1], :]  # fmt: skip
            out += patch @ w[i, j]
    return out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def keras_convlstm2d(xs, kernel, recurrent_kernel, bias, strides=(1, 1), padding="valid",
                     dilation=(1, 1), go_backwards=False, rec_act=sigmoid):  # fmt: skip
    """Returns (all outputs (B, T, Ho, Wo, F) in processing order, h, c)."""
    F = recurrent_kernel.shape[2]
    if go_backwards:
        xs = xs[:, ::-1]
    h = c = None
    outs = []
    for t in range(xs.shape[1]):
        x_t = conv2d_nhwc(xs[:, t], kernel, strides, padding, dilation)
        if bias is not None:
            x_t = x_t + bias
        if h is None:
            h = np.zeros(x_t.shape[:3] + (F,))
            c = np.zeros_like(h)
        r = conv2d_nhwc(h, recurrent_kernel, (1, 1), "same", (1, 1))
        z = x_t + r
        i, f, g, o = (z[..., n * F : (n + 1) * F] for n in range(4))
        i, f, o = rec_act(i), rec_act(f), rec_act(o)
        c = f * c + i * np.tanh(g)
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c
