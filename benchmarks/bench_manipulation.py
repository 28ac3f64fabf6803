"""Joining arrays."""

import numpy as np

from .common import OpBenchmark, mx, torch


class Concat(OpBenchmark):
    cases = [
        "dim=1000000x64 dim=1000000x32 axi=1",
        "dim=1000000x64 dim=1000000x128 axi=1",
        "dim=1000000x64 dim=1000000x64 axi=0",
        "dim=64x1000000 dim=64x1000000 axi=0",
    ]

    def output_elements(self, case):
        return case.elements  # all of both inputs, once

    def numpy(self, a, b, axis):
        return np.concatenate([a, b], axis=axis)

    def mlx(self, a, b, axis):
        return mx.concatenate([a, b], axis=axis)

    def torch(self, a, b, axis):
        return torch.cat([a, b], dim=axis)
