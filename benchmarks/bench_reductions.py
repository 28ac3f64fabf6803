"""Reductions, scans and sorting along an axis, and over the whole array."""

import numpy as np

from .common import OpBenchmark, mx, torch


class Argmax(OpBenchmark):
    cases = [
        "dim=64x1024x128 axi=0",
        "dim=64x1024x128 axi=1",
        "dim=64x1024x128 axi=2",
        "dim=64x128x1024 axi=2",
    ]
    exact = True
    flops_per_element = 1  # compare

    def output_elements(self, case):
        return int(np.prod(case.shapes[0])) // case.shapes[0][case.axis]

    def numpy(self, x, axis):
        return np.argmax(x, axis=axis)

    def mlx(self, x, axis):
        return mx.argmax(x, axis=axis)

    def torch(self, x, axis):
        return torch.argmax(x, dim=axis)


class Sum(OpBenchmark):
    cases = [
        "dim=64x128x128x128 axi=0",
        "dim=64x128x128x128 axi=1",
        "dim=64x128x128x128 axi=2",
        "dim=64x128x128x128 axi=3",
    ]
    flops_per_element = 1  # add
    tolerance = 2e-4  # float32 sums of millions of terms (MLX CPU: 7e-5 off at 1M)

    def output_elements(self, case):
        return int(np.prod(case.shapes[0])) // case.shapes[0][case.axis]

    def numpy(self, x, axis):
        return np.sum(x, axis=axis)

    def mlx(self, x, axis):
        return mx.sum(x, axis=axis)

    def torch(self, x, axis):
        return torch.sum(x, dim=axis)


class SumAll(OpBenchmark):
    cases = ["dim=64x128x128x128", "dim=1000000", "dim=1000000x128", "dim=128x1000000"]
    flops_per_element = 1  # add

    def output_elements(self, case):
        return 1
    tolerance = 2e-4  # float32 sums of millions of terms (MLX CPU: 7e-5 off at 1M)

    def numpy(self, x):
        return np.sum(x)

    def mlx(self, x):
        return mx.sum(x)

    def torch(self, x):
        return torch.sum(x)


class Sort(OpBenchmark):
    cases = ["dim=64x128x1024 axi=0", "dim=64x128x1024 axi=1", "dim=64x128x1024 axi=2"]
    exact = True

    def numpy(self, x, axis):
        return np.sort(x, axis=axis)

    def mlx(self, x, axis):
        return mx.sort(x, axis=axis)

    def torch(self, x, axis):
        # torch has no values-only sort: its sort always computes the indices too.
        return torch.sort(x, dim=axis).values


class CumSum(OpBenchmark):
    """Running sums along an axis (a scan): along a sequence, along rows, over one long vector."""

    cases = ["dim=8x1024x1024 axi=1", "dim=1024x8192 axi=1", "dim=1048576 axi=0"]
    flops_per_element = 1  # add
    tolerance = 5e-5  # float32 running sums of 1M terms: MLX CPU is 1.6e-5 off
    # float32 only: MLX's scans accumulate in the dtype (torch's do on CUDA, not on CPU), so in float16
    # and bfloat16 MLX's CPU result for 1M terms was 133 and 90 epsilons off (0.13 and 0.7 of the
    # largest sum): no tolerance there tells a right scan from a wrong one.
    dtypes = ("float32",)

    def numpy(self, x, axis):
        return np.cumsum(x, axis=axis)

    def mlx(self, x, axis):
        return mx.cumsum(x, axis=axis)

    def torch(self, x, axis):
        return torch.cumsum(x, dim=axis)


TOP_K = 50  # a sampler's usual top-k


class TopK(OpBenchmark):
    """The TOP_K largest values along the last axis, in no particular order on both sides (MLX's
    `topk` does not sort them; torch is asked not to). torch computes their indices as well: it has no
    values-only top-k."""

    cases = ["dim=64x32000 axi=-1", "dim=8x128256 axi=-1", "dim=4096x1024 axi=-1"]  # vocabularies; rows
    exact = True

    def output_elements(self, case):
        return int(np.prod(case.shapes[0])) // case.shapes[0][case.axis] * TOP_K

    def comparable(self, result):
        return np.sort(result, axis=-1)

    def numpy(self, x, axis):
        return np.partition(x, -TOP_K, axis=axis)[..., -TOP_K:]

    def mlx(self, x, axis):
        return mx.topk(x, TOP_K, axis=axis)

    def torch(self, x, axis):
        return torch.topk(x, TOP_K, dim=axis, sorted=False).values
