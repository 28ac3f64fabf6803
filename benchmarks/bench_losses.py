"""Binary cross-entropy on probabilities, mean over all elements, on both sides."""

import numpy as np

from .common import F, OpBenchmark, nn, random_floats

LOG_FLOOR = -100.0  # both frameworks clamp log(p) and log(1 - p) at -100


class BCE(OpBenchmark):
    """MLX's form is `mlx.nn.losses` as it ships, a graph of a dozen elementwise kernels and a mean;
    torch's is one kernel and a mean. The `mlx_gpu_compile` column has MLX's fused form."""

    cases = [
        "dim=1000000 dim=1000000",
        "dim=100000x32 dim=100000x32",
        "dim=100000x64x2 dim=100000x64x2",
        "dim=128x100000 dim=128x100000",
    ]
    flops_per_element = 8  # two logs, two clamps, 1 - p, 1 - y, multiply-adds, mean
    # MLX CPU's float32 mean of 3.2M positive terms is 1.8e-3 off; logits for probabilities or
    # a sum for a mean would be off by far more than this.
    tolerance = 5e-3
    # No float16: MLX's mean of the losses is a float16 sum times 1/n, and the sum of a million losses
    # passes float16's largest number, 65504 (MLX returns inf; torch sums in float32). bfloat16 has
    # float32's range.
    dtypes = ("float32", "bfloat16")

    def output_elements(self, case):
        return 1  # the mean

    def make_inputs(self, case, rng):
        probabilities_shape, targets_shape = case.shapes
        return [random_floats(rng, probabilities_shape, 1e-3, 1 - 1e-3), random_floats(rng, targets_shape, 0, 1)]

    def numpy(self, p, target):
        with np.errstate(divide="ignore"):  # bfloat16 rounds p near 1 to 1: log(0), clamped as both frameworks do
            log_p = np.maximum(np.log(p), LOG_FLOOR)
            log_not_p = np.maximum(np.log1p(-p), LOG_FLOOR)
        return np.mean(-(target * log_p + (1 - target) * log_not_p))

    def mlx(self, p, target):
        return nn.losses.binary_cross_entropy(p, target, with_logits=False, reduction="mean")

    def torch(self, p, target):
        return F.binary_cross_entropy(p, target, reduction="mean")
