"""Convolutions, channels-last on both sides (MLX's layout; torch gets the same bytes as a view).

Row names give the input as (N, [H, W,] L/C) and the weight as MLX's (C_out, [KH, KW,] K, C_in).
Stride 1, no padding, no bias.
"""

import numpy as np

from .common import F, OpBenchmark, mx, torch


def _channels_last_conv(x, w, spatial):
    """float64 convolution (cross-correlation) of channels-last x with (C_out, *kernel, C_in) w."""
    kernel = w.shape[1:-1]
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=tuple(range(1, 1 + spatial)))
    # windows: (N, *out, C_in, *kernel); contract C_in and the kernel with w's matching axes.
    window_axes = [1 + spatial, *range(2 + spatial, 2 + 2 * spatial)]
    return np.tensordot(windows, w, axes=(window_axes, [1 + spatial, *range(1, 1 + spatial)]))


def _outputs(self, case):
    """Output elements of a stride-1 convolution without padding."""
    x, w = case.shapes
    return x[0] * int(np.prod([size - k + 1 for size, k in zip(x[1:-1], w[1:-1])])) * w[0]


def _flops(self, case):
    _, w = case.shapes
    return 2 * int(np.prod(w[1:])) * _outputs(self, case)  # kernel x C_in multiply-adds per output


class Conv1d(OpBenchmark):
    cases = [
        "dim=100x256x3 dim=8x3x3",
        "dim=100x256x256 dim=8x3x256",
        "dim=16x1000x80 dim=128x11x80",
        "dim=16x1000x3 dim=128x11x3",
    ]
    uses_matrix_units = True
    tolerance = 2e-5  # float32 dot products of up to 880 terms
    output_elements, flops = _outputs, _flops

    def numpy(self, x, w):
        return _channels_last_conv(x, w, spatial=1)

    def mlx(self, x, w):
        return mx.conv1d(x, w)

    def torch(self, x, w):
        return F.conv2d(x, w)

    def torch_layout(self, x, w):
        # torch has no channels-last 1-d layout, and F.conv1d would copy a (N, C, L) view of these
        # bytes to channels-first inside the call. torch runs conv1d as a conv2d of height 1 anyway:
        # the same bytes viewed as (N, C, 1, L) are exactly torch.channels_last, no copy.
        return x.permute(0, 2, 1).unsqueeze(2), w.permute(0, 2, 1).unsqueeze(2)

    def torch_result(self, result):
        return result[:, :, 0, :].transpose(0, 2, 1)


class Conv2d(OpBenchmark):
    cases = [
        "dim=100x256x256x3 dim=8x3x3x3",
        "dim=100x256x256x12 dim=8x3x3x12",
        "dim=10x256x256x128 dim=8x3x3x128",
        "dim=100x28x28x3 dim=8x3x3x3",
        "dim=1000x28x28x3 dim=8x3x3x3",
    ]
    uses_matrix_units = True
    tolerance = 2e-5  # float32 dot products of up to 1152 terms
    output_elements, flops = _outputs, _flops

    def numpy(self, x, w):
        return _channels_last_conv(x, w, spatial=2)

    def mlx(self, x, w):
        return mx.conv2d(x, w)

    def torch(self, x, w):
        return F.conv2d(x, w)

    def torch_layout(self, x, w):
        # (N, H, W, C) bytes viewed as (N, C, H, W): exactly torch.channels_last, no copy.
        return x.permute(0, 3, 1, 2), w.permute(0, 3, 1, 2)

    def torch_result(self, result):
        return result.transpose(0, 2, 3, 1)
