"""Cases known to fail upstream, by MLX release and backend.

The benchmarks still run these (a fixed release must show up); the tests expect them to fail,
strictly, so a release that fixes one fails the test until its entry is removed here; the
speedup table prints the reason under a failed cell.
"""

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class KnownFailure:
    row: str  # "Family / case label", as in the reference table
    backend: str
    gpu: str  # "cuda" or "metal": which MLX GPU backend (or torch device) it fails on
    mlx_versions: tuple
    reason: str
    seen: str  # date and device where it was seen
    # Words of the error it raises, as its process printed them: the tests accept no other failure.
    error: str = dataclasses.field(kw_only=True)
    precision: str = "any"  # "strict" or "tf32" for a failure of one precision mode only
    dtype: str = "float32"  # the dtype it was seen in; "any" for all


KNOWN_FAILURES = (
    KnownFailure(
        "Sort / dim=64x128x1024 axi=0", "mlx_gpu", "cuda", ("0.32.4",),
        "mx.sort along axis 0 raises cudaGraphAddKernelNode(...) failed: invalid argument",
        "2026-11-24, NVIDIA H100 80GB HBM3", error="cudaGraphAddKernelNode",
    ),
    KnownFailure(
        "Sort / dim=64x128x1024 axi=1", "mlx_gpu", "cuda", ("0.32.4",),
        "mx.sort along axis 1 raises cudaGraphAddKernelNode(...) failed: invalid argument",
        "2026-11-24, NVIDIA H100 80GB HBM3", error="cudaGraphAddKernelNode",
    ),
    KnownFailure(
        "Conv1d / dim=100x256x256 dim=8x3x256", "mlx_gpu", "cuda", ("0.32.4",),
        "mx.conv1d with MLX_ENABLE_TF32=0 makes an illegal memory access that kills the process",
        "2026-11-24, NVIDIA H100 80GB HBM3", error="an illegal memory access was encountered", precision="strict",
    ),
)


@dataclasses.dataclass(frozen=True)
class LackingDtype:
    """A framework's own gap: `family` has no `dtype` form on `backend`. The suite finds it by trying
    and skips the case there, saying so; the tests skip it only when it is listed here."""
    family: str
    backend: str
    dtype: str
    reason: str
    seen: str  # date and device where it was seen


# None seen: on mlx_cpu and cpu every family runs in every dtype it declares (2026-11-29). A gap the
# tests meet unlisted fails them, and so does a listed one that runs: a skip never hides a failure.
LACKING_DTYPES = ()


def lacking_dtype(family, backend, dtype):
    """The LACKING_DTYPES entry for this family, backend and dtype, or None."""
    wanted = (family, backend, dtype)
    return next((entry for entry in LACKING_DTYPES if (entry.family, entry.backend, entry.dtype) == wanted), None)


@dataclasses.dataclass(frozen=True)
class LooserRounding:
    """An upstream op that rounds more in a half dtype than its family allows (`OpBenchmark.epsilons`):
    its results stay within `epsilons` of the dtype's epsilon of float64, where the family's own bound
    fails some case. The tests hold that backend (and comparisons with it) to this bound instead, and
    fail once no case needs it; the timings are untouched: the op reads and writes the same bytes."""
    family: str
    backend: str
    gpu: str
    mlx_versions: tuple
    dtype: str
    epsilons: float
    reason: str
    seen: str  # date, device and the largest error seen, in epsilons


_HALF_SUMS = ("MLX's CUDA reductions accumulate a float16 or bfloat16 sum in the dtype itself "
              "(ReduceResult<Sum, T> is T in mlx/backend/cuda/reduce/reduce_ops.cuh); torch and the CPU "
              "backends accumulate in float32")
LOOSER_ROUNDING = (
    LooserRounding("Sum", "mlx_gpu", "cuda", ("0.32.4",), "float16", 4, _HALF_SUMS,
                   "2026-11-29, NVIDIA H200: 2.1 epsilons (dim=1x32x32x32 axi=2)"),
    LooserRounding("SumAll", "mlx_gpu", "cuda", ("0.32.4",), "float16", 32, _HALF_SUMS,
                   "2026-11-29, NVIDIA H200: 25.5 epsilons (dim=128x3906)"),
    LooserRounding("SumAll", "mlx_gpu", "cuda", ("0.32.4",), "bfloat16", 4, _HALF_SUMS,
                   "2026-11-29, NVIDIA H200: 2.7 epsilons (dim=16x32x32x32)"),
)


def looser_rounding(family, backend, mlx_version, gpu, dtype):
    """The LOOSER_ROUNDING entry for this family on this backend (mlx_gpu's hold for mlx_gpu_compile),
    MLX release, GPU platform and dtype, or None."""
    backend = backend.removesuffix("_compile")
    return next((entry for entry in LOOSER_ROUNDING
                 if (entry.family, entry.backend, entry.gpu, entry.dtype) == (family, backend, gpu, dtype)
                 and mlx_version in entry.mlx_versions), None)


def mlx_gpu_platform():
    mx = importlib.import_module("mlx.core")
    return "cuda" if mx.cuda.is_available() else "metal"


def known_failure(row, backend, mlx_version, gpu, precision="strict", dtype="float32"):
    """The entry for this row on this backend, MLX release, GPU platform, precision and dtype, or None.
    mlx_gpu's entries hold for mlx_gpu_compile too: compiling the op runs the same kernels."""
    for failure in KNOWN_FAILURES:
        if ((failure.row, failure.backend, failure.gpu) == (row, backend.removesuffix("_compile"), gpu)
                and mlx_version in failure.mlx_versions
                and failure.precision in ("any", precision) and failure.dtype in ("any", dtype)):
            return failure
    return None
