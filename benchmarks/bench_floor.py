"""The floor under every GPU figure: a synchronised one-element op, per backend."""

from .common import OpBenchmark, mx, torch


class Floor(OpBenchmark):
    cases = ["dim=1"]
    in_tables = False
    # One element costs a launch and a synchronisation whatever its dtype: one floor serves every
    # dtype's table, and its parameters stay those of the results and history runs already kept.
    dtypes = ("float32",)

    def numpy(self, x):
        return x + 1

    def mlx(self, x):
        return mx.add(x, 1)

    def torch(self, x):
        return torch.add(x, 1)
