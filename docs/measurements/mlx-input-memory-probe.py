"""Probe (session 28, for a lease): does where MLX's inputs live make its GPU figures differ from one
process to the next? On CUDA, `mx.array(numpy)` allocates managed (unified) memory, which the driver
migrates to the GPU page by page at first use; MLX's own results get device memory (`cudaMallocAsync`,
mlx/backend/cuda/allocator.cpp, 0.32). torch's inputs are device memory. In session 28's pair
(`h100-2026-12-07e/`) a figure's processes differed by x1.18-1.20 (median) on mlx_gpu, x1.08-1.09 on
cuda.

`python3 docs/measurements/mlx-input-memory-probe.py [PROCESSES [FAMILY,... [MODE,...]]]`: fresh
processes in turn, each timing the cases below like the suite (warm-up, then one synchronised call a
sample). Modes: `managed` (MLX's inputs as the suite makes them), `device` (each input once through a
GPU op, then MLX's cache cleared), `torch` (the cuda backend, a control) and, when named, `pool-kept`
(as `managed`, with the GPU's default memory pool keeping what it maps: release threshold at the
maximum instead of 0). MLX modes print the pool's reserved bytes. Prints each process's median per
case, then per case and mode the spread between processes (highest over lowest) and the median of the
processes' medians. FAMILY names a subset of the cases. Runs on the CPU too (a dry run).
"""

import ctypes
import statistics
import subprocess
import sys
import time

CASES = (
    ("Sum", "dim=64x128x128x128 axi=3"),
    ("Sum", "dim=64x128x128x128 axi=0"),
    ("SumAll", "dim=128x1000000"),
    ("BCE", "dim=100000x32 dim=100000x32"),
    ("Concat", "dim=1000000x64 dim=1000000x128 axi=1"),
    ("ScatterAdd", "dim=32000x1024 dim=8192 dim=8192x1024"),
    ("CumSum", "dim=1048576 axi=0"),
    ("Linear", "dim=100x1024x32 dim=32x1024 dim=1024"),
    ("ReLU", "dim=64x128x1024"),
)
SAMPLES = 200
MODES = ("managed", "device", "torch")
RELEASE_THRESHOLD, RESERVED_CURRENT, RESERVED_HIGH = 4, 5, 6  # CUmemPool_attribute


def default_pool():
    """(the CUDA driver, the GPU's default memory pool, which MLX's cudaMallocAsync draws on), through
    the driver's API: MLX may carry its CUDA runtime linked in."""
    cuda = ctypes.CDLL("libcuda.so.1")
    device, pool = ctypes.c_int(), ctypes.c_void_p()
    assert cuda.cuInit(0) == 0 and cuda.cuDeviceGet(ctypes.byref(device), 0) == 0
    assert cuda.cuDeviceGetDefaultMemPool(ctypes.byref(pool), device) == 0
    return cuda, pool


def pool_attribute(cuda, pool, attribute):
    value = ctypes.c_uint64()
    assert cuda.cuMemPoolGetAttribute(pool, attribute, ctypes.byref(value)) == 0
    return value.value


def child(mode):
    sys.path.insert(0, ".")
    import mlx.core as mx

    from benchmarks.backends import BACKENDS
    from benchmarks.common import op_families, warm_up

    gpu = mx.is_available(mx.gpu)
    torch_name, mlx_name = ("cuda", "mlx_gpu") if gpu else ("cpu", "mlx_cpu")
    backend = BACKENDS[torch_name if mode == "torch" else mlx_name]
    families = {family.__name__: family for family in op_families()}
    pool = None
    if gpu and mode != "torch":
        mx.eval(mx.ones(4) + 1)
        pool = default_pool()
        if mode == "pool-kept":  # by default (threshold 0) the pool may hand back what it mapped
            threshold = ctypes.c_uint64(2**64 - 1)
            assert pool[0].cuMemPoolSetAttribute(pool[1], RELEASE_THRESHOLD, ctypes.byref(threshold)) == 0
    with backend.session("strict"):
        wanted = sys.argv[3].split(",") if sys.argv[3] else [name for name, _ in CASES]
        for name, label in (case for case in CASES if case[0] in wanted):
            family = families[name]()
            op, args = family.prepare(label, backend, "float32")
            if mode == "device":
                args = tuple(a * 1 for a in args)  # a GPU op's result (exact): device memory
                mx.eval(*args)
                mx.clear_cache()
            warm_up((name, label, mode), backend, op, args)
            times = []
            for _ in range(SAMPLES):
                start = time.perf_counter()
                backend.run(op, args)
                times.append(time.perf_counter() - start)
            reserved = (f"\tpool reserved {pool_attribute(*pool, RESERVED_CURRENT) >> 20} MB, "
                        f"high {pool_attribute(*pool, RESERVED_HIGH) >> 20} MB, "
                        f"MLX cache {mx.get_cache_memory() >> 20} MB" if pool else "")
            print(f"{mode}\t{name} {label}\t{statistics.median(times) * 1e6:.1f}{reserved}", flush=True)


def main():
    if len(sys.argv) > 3 and sys.argv[1] == "child":
        return child(sys.argv[2])
    processes = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    families = sys.argv[2] if len(sys.argv) > 2 else ""
    modes = sys.argv[3].split(",") if len(sys.argv) > 3 else MODES
    figures = {}
    for i in range(processes * len(modes)):
        mode = modes[i % len(modes)]
        out = subprocess.run([sys.executable, __file__, "child", mode, families],
                             capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            sys.exit(1)
        for line in out.stdout.splitlines():
            print(f"process {i}\t{line}", flush=True)
            mode_, case, us = line.split("\t")[:3]
            figures.setdefault((case, mode_), []).append(float(us))
    print("\ncase\tmode\tspread between processes\tmedian (us)\tprocesses (us)")
    for (case, mode), values in figures.items():
        print(f"{case}\t{mode}\tx{max(values) / min(values):.3f}\t{statistics.median(values):.1f}\t"
              + " ".join(f"{v:.0f}" for v in values))


main()
