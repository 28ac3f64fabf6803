"""Normalisation over the last axis, as transformer layers use it: each framework's fused kernel.

Shapes are (batch, tokens, features) with the weight (and bias) over the features: a training-size
batch, a smaller model width, and one decoding step of a wide model.
"""

import numpy as np

from .common import F, OpBenchmark, mx

EPS = 1e-5


class LayerNorm(OpBenchmark):
    cases = [
        "dim=8x1024x4096 dim=4096 dim=4096",
        "dim=32x512x1024 dim=1024 dim=1024",
        "dim=1x32x8192 dim=8192 dim=8192",
    ]
    flops_per_element = 8  # mean, subtract, square, mean, rsqrt, multiply, scale, shift
    tolerance = 1e-5  # float32 means over up to 8192 features

    def numpy(self, x, weight, bias):
        centred = x - x.mean(axis=-1, keepdims=True)
        return centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + EPS) * weight + bias

    def mlx(self, x, weight, bias):
        return mx.fast.layer_norm(x, weight, bias, EPS)

    def torch(self, x, weight, bias):
        return F.layer_norm(x, weight.shape, weight, bias, EPS)


class RMSNorm(OpBenchmark):
    cases = [
        "dim=8x1024x4096 dim=4096",
        "dim=32x512x1024 dim=1024",
        "dim=1x32x8192 dim=8192",
    ]
    flops_per_element = 5  # square, mean, rsqrt, multiply, scale
    tolerance = 1e-5

    def numpy(self, x, weight):
        return x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + EPS) * weight

    def mlx(self, x, weight):
        return mx.fast.rms_norm(x, weight, EPS)

    def torch(self, x, weight):
        return F.rms_norm(x, weight.shape, weight, EPS)
