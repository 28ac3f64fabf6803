"""Joining arrays, and gathering rows by index."""

import numpy as np

from .common import OpBenchmark, mx, random_floats, torch


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


class Gather(OpBenchmark):
    """Rows of a table picked by index along an axis, as an embedding lookup does: `mx.take` against
    `torch.index_select`, both on the same int32 indices."""

    cases = ["dim=32000x4096 dim=8192 axi=0", "dim=128256x1024 dim=512 axi=0", "dim=1000000x64 dim=65536 axi=0"]

    def make_inputs(self, case, rng):
        table_shape, index_shape = case.shapes
        return [random_floats(rng, table_shape),
                rng.integers(0, table_shape[case.axis], index_shape, dtype=np.int32)]

    def output_elements(self, case):
        table, (count,) = case.shapes
        return int(np.prod(table)) // table[case.axis] * count

    def bytes_moved(self, case):
        rows_read = min(int(np.prod(case.shapes[0])), self.output_elements(case))  # at most the whole table
        return 4 * (rows_read + self.output_elements(case) + case.shapes[1][0])  # and written; the indices

    def numpy(self, table, index, axis):
        return np.take(table, index, axis=axis)

    def mlx(self, table, index, axis):
        return mx.take(table, index, axis=axis)

    def torch(self, table, index, axis):
        return torch.index_select(table, axis, index)
