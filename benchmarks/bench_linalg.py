"""Matrix products: batched and broadcast matmul, and a linear layer with bias."""

import numpy as np

from .common import F, OpBenchmark, mx, torch


class MatMul(OpBenchmark):
    cases = [
        "dim=32x1x1000 dim=32x1000x128",
        "dim=1000x64x256 dim=256x32",
        "dim=1000x64x1024 dim=1000x1024x32",
        "dim=1000x1024x64 dim=1000x64x256",
        "dim=64x1000000 dim=1000000x32",
        "dim=1000000x64 dim=64x1024",
    ]
    uses_matrix_units = True
    tolerance = 1e-4  # float32 dot products of up to 1M terms (2.7e-5 seen at 62.5k); TF32 is ~3e-4

    def output_elements(self, case):
        (*batch_a, m, _), (*batch_b, _, n) = case.shapes
        return int(np.prod(np.broadcast_shapes(tuple(batch_a), tuple(batch_b)))) * m * n

    def flops(self, case):
        return 2 * case.shapes[0][-1] * self.output_elements(case)  # a multiply and an add per term

    def numpy(self, a, b):
        return np.matmul(a, b)

    def mlx(self, a, b):
        return mx.matmul(a, b)

    def torch(self, a, b):
        return torch.matmul(a, b)


class Linear(OpBenchmark):
    """y = x @ w + b, with w given as (in, out) like the row names; torch keeps it (out, in).

    Each framework gets its faster layout of the same weight: `mx.addmm(b, x, w)` on (in, out), and
    torch's fused `F.linear` on (out, in). mlx.nn.Linear keeps (out, in) and multiplies by its
    transpose: on MLX's Linux CPU that took 1.0 to 2.0 times as long over these rows, and torch's
    `addmm` on (in, out) 0.8 to 1.2 times `F.linear`'s (2026-11-29, 2-core box, best of 5)."""

    cases = [
        "dim=100x1024x32 dim=32x1024 dim=1024",
        "dim=100x1024x64 dim=64x1024 dim=1024",
        "dim=100x1024x256 dim=256x1024 dim=1024",
        "dim=100x1024x512 dim=512x1024 dim=1024",
        "dim=100x1x51200 dim=51200x1 dim=1",
    ]
    uses_matrix_units = True
    tolerance = 5e-5  # float32 dot products of up to 51200 terms

    def output_elements(self, case):
        x, (_, out), _ = case.shapes
        return int(np.prod(x[:-1])) * out

    def flops(self, case):
        return (2 * case.shapes[0][-1] + 1) * self.output_elements(case)  # the products, then the bias

    def numpy(self, x, w, b):
        return x @ w + b

    def mlx(self, x, w, b):
        return mx.addmm(b, x, w)

    def torch(self, x, w_out_in, b):
        return F.linear(x, w_out_in, b)

    def torch_layout(self, x, w, b):
        return x, w.t().contiguous(), b
