"""Element-wise activations and softmax: memory-bound ops on one input."""

import math

import numpy as np

from .common import F, OpBenchmark, mlx_compiled, mx, nn, random_floats, torch

LEAKY_SLOPE = 0.01  # torch's default negative_slope, given explicitly to both
PRELU_WEIGHTS = (0.05, 0.5)  # one weight shared by all channels, drawn from this range
SELU_ALPHA = 1.6732632423543772848170429916717  # torch's constants; mlx.nn.selu rounds them
SELU_SCALE = 1.0507009873554804934193349852946
ACTIVATION_CASES = ["dim=128x16x1024", "dim=64x128x1024"]


class ReLU(OpBenchmark):
    cases = ACTIVATION_CASES
    exact = True
    flops_per_element = 1  # max

    def numpy(self, x):
        return np.maximum(x, 0)

    def mlx(self, x):
        return nn.relu(x)

    def torch(self, x):
        return F.relu(x)


class LeakyReLU(OpBenchmark):
    cases = ACTIVATION_CASES
    flops_per_element = 2  # multiply, select

    def numpy(self, x):
        return np.where(x > 0, x, LEAKY_SLOPE * x)

    def mlx(self, x):
        return nn.leaky_relu(x, LEAKY_SLOPE)

    def torch(self, x):
        return F.leaky_relu(x, LEAKY_SLOPE)


class PReLU(OpBenchmark):
    cases = ["dim=128x16x1024 dim=1", "dim=64x128x1024 dim=1"]
    flops_per_element = 2  # multiply, select

    def make_inputs(self, case, rng):
        x_shape, weight_shape = case.shapes
        # Drawn, not torch's default (0.25): an MLX or torch form that ignored the weight would pass.
        return [random_floats(rng, x_shape), random_floats(rng, weight_shape, *PRELU_WEIGHTS)]

    def numpy(self, x, weight):
        return np.where(x > 0, x, weight * x)

    def mlx(self, x, weight):
        return nn.prelu(x, weight)

    def torch(self, x, weight):
        return F.prelu(x, weight)


@mlx_compiled
def _mlx_selu(x):
    # mlx.nn.selu's own fused form, with the exact constants.
    return SELU_SCALE * mx.where(x > 0, x, SELU_ALPHA * (mx.exp(x) - 1))


class SeLU(OpBenchmark):
    cases = ACTIVATION_CASES
    flops_per_element = 5  # exp, subtract, two multiplies, select

    def numpy(self, x):
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))

    def mlx(self, x):
        return _mlx_selu(x)

    def torch(self, x):
        return F.selu(x)


class Sigmoid(OpBenchmark):
    cases = ACTIVATION_CASES
    flops_per_element = 4  # negate, exp, add, divide

    def numpy(self, x):
        return 1 / (1 + np.exp(-x))

    def mlx(self, x):
        return mx.sigmoid(x)

    def torch(self, x):
        return torch.sigmoid(x)


class Softplus(OpBenchmark):
    cases = ACTIVATION_CASES
    flops_per_element = 3  # exp, add, log

    def numpy(self, x):
        return np.logaddexp(x, 0)

    def mlx(self, x):
        return nn.softplus(x)

    def torch(self, x):
        return F.softplus(x)


class Softmax(OpBenchmark):
    tolerance = 1e-4  # float32 sums over rows of up to 1M: MLX CPU is 1e-5 off at 250k
    cases = [
        "dim=64x1000000 axi=-1",
        "dim=1000000x64 axi=-1",
        "dim=64x16x32x1024 axi=-1",
        "dim=128x16x32x1024 axi=-1",
        "dim=1024x16x32x128 axi=-1",
        "dim=1024x64x32x8 axi=-1",
    ]
    flops_per_element = 5  # max, subtract, exp, sum, divide

    def numpy(self, x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def mlx(self, x, axis):
        if x.dtype == mx.float32:  # `precise` would change nothing, and the oldest releases lack it
            return mx.softmax(x, axis=axis)
        # torch accumulates a float16 or bfloat16 softmax in float32, MLX only when asked: in the dtype,
        # MLX's CPU softmax of 976-element rows was 45 bfloat16 epsilons off (torch's 0.3), and of
        # 250000-element rows 7000 float16 epsilons.
        return mx.softmax(x, axis=axis, precise=True)

    def torch(self, x, axis):
        return torch.softmax(x, dim=axis)


_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; the float64 reference only


class GELU(OpBenchmark):
    """The exact (erf) GELU on both sides: MLX's `nn.gelu`, torch's default `F.gelu`."""

    cases = ["dim=8x1024x4096", "dim=1x32x11008"]  # a transformer MLP's activations; one decoding step
    flops_per_element = 5  # scale, erf, add, two multiplies

    def numpy(self, x):
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)).astype(np.float64))

    def mlx(self, x):
        return nn.gelu(x)

    def torch(self, x):
        return F.gelu(x)


class SiLU(OpBenchmark):
    cases = ["dim=8x1024x4096", "dim=1x32x11008"]
    flops_per_element = 4  # negate, exp, add, divide

    def numpy(self, x):
        return x / (1 + np.exp(-x))

    def mlx(self, x):
        return nn.silu(x)

    def torch(self, x):
        return F.silu(x)
