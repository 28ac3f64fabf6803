"""Joining arrays, gathering rows by index, and scattering rows into a table by index."""

import warnings

import numpy as np

from .common import OpBenchmark, mx, random_floats, torch


class Concat(OpBenchmark):
    cases = [
        "dim=1000000x64 dim=1000000x32 axi=1",
        "dim=1000000x64 dim=1000000x128 axi=1",
        "dim=1000000x64 dim=1000000x64 axi=0",
        "dim=64x1000000 dim=64x1000000 axi=0",
    ]
    exact = True

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
    exact = True

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


class RowScatter:
    """A scatter along axis 0, the part both reductions share: a float32 table, int32 row indices
    drawn uniformly (so some repeat, and the reduction over repeated rows matters), one float32 row
    of updates per index, and the float64 reference, NumPy's unbuffered `ufunc.at` with `combine`.

    Both frameworks scatter out of place: the result is a new table, the input table is left as it
    was. Copying the table into the result is part of the op on both sides.
    """

    def make_inputs(self, case, rng):
        table_shape, index_shape, updates_shape = case.shapes
        return [random_floats(rng, table_shape), rng.integers(0, table_shape[0], index_shape, dtype=np.int32),
                random_floats(rng, updates_shape)]

    def numpy(self, table, indices, updates):
        result = table.copy()
        self.combine.at(result, indices, updates)
        return result


# An embedding table's gradient (8192 tokens into a 32000-word vocabulary: few repeats), a graph's
# messages summed per node (1M edges into 100000 nodes: about 10 per row), a histogram (1M values
# into 65536 bins: about 16 per bin).
SCATTER_CASES = [
    "dim=32000x1024 dim=8192 dim=8192x1024",
    "dim=100000x64 dim=1048576 dim=1048576x64",
    "dim=65536 dim=1048576 dim=1048576",
]


class ScatterAdd(RowScatter, OpBenchmark):
    """The table with every update row added to the row its index names: `table.at[indices].add(updates)`
    against `torch.index_add`, both on the same int32 indices."""

    cases = SCATTER_CASES
    combine = np.add
    # The updates of a row are summed in an order each backend chooses (atomics on a GPU), so results
    # differ by rounding. In float32 a row that n updates are added to is within n * 2^-24 * (the sum
    # of its terms' magnitudes, the table's included) of its exact sum in any order: at most 3.9e-6 of
    # max|result| at these cases (35 updates in the fullest bin). 1.6e-7 seen on the CPU backends.
    tolerance = 1e-5

    def mlx(self, table, indices, updates):
        return table.at[indices].add(updates)

    def torch(self, table, indices, updates):
        return torch.index_add(table, 0, indices, updates)


# torch says so once per process, which under asv is once per case and backend, in every run log.
warnings.filterwarnings("ignore", r"index_reduce\(\) is in beta", UserWarning)


class ScatterMax(RowScatter, OpBenchmark):
    """Each table row replaced by its elementwise maximum with the update rows that name it (the
    table's own row takes part): `table.at[indices].maximum(updates)` against torch's
    `index_reduce(..., "amax", include_self=True)`, both on the same int32 indices (torch's
    `scatter_reduce` would want int64 indices, one per element)."""

    cases = SCATTER_CASES
    combine = np.maximum
    exact = True  # a maximum is exact, in any order

    def mlx(self, table, indices, updates):
        return table.at[indices].maximum(updates)

    def torch(self, table, indices, updates):
        return table.index_reduce(0, indices, updates, "amax", include_self=True)
