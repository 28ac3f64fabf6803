"""Probe (session 22, for a lease): can asv's forkserver load MLX's libraries before it forks, so that
each MLX process's `import mlx.core` (0.25 s on the H100, with its CUDA context) is cheaper, without
the server itself touching the GPU? `python3 docs/measurements/mlx-preload-probe.py MODE` with MODE
none (as now), libmlx (libmlx.so loaded with ctypes) or core (MLX's extension module loaded with
ctypes, its Python init not run). Prints whether the server maps the NVIDIA device files after it
(a CUDA context would be inherited broken), then five forked processes: `import mlx.core`, a
first GPU call, and the whole process, in seconds.
"""

import ctypes
import glob
import importlib.util
import multiprocessing
import os
import sys
import time

import torch  # noqa: F401 (as the suite's forkserver has it)


def nvidia_mappings():
    with open("/proc/self/maps") as maps:
        return sum("/dev/nvidia" in line for line in maps)


def child(queue):
    start = time.perf_counter()
    import mlx.core as mx
    imported = time.perf_counter()
    mx.set_default_device(mx.gpu if mx.is_available(mx.gpu) else mx.cpu)  # the cpu: a dry run without GPU
    mx.eval(mx.ones(1) + 1)
    queue.put((imported - start, time.perf_counter() - imported))


mode = sys.argv[1]
package = importlib.util.find_spec("mlx").submodule_search_locations[0]
if mode == "libmlx":
    ctypes.CDLL(os.path.join(package, "lib", "libmlx.so"), mode=ctypes.RTLD_GLOBAL)
elif mode == "core":
    ctypes.CDLL(glob.glob(os.path.join(package, "core*.so"))[0], mode=ctypes.RTLD_GLOBAL)
print(f"{mode}: the server maps /dev/nvidia* {nvidia_mappings()} times")
context = multiprocessing.get_context("fork")
for _ in range(5):
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    start = time.perf_counter()
    process.start()
    try:
        imported, first_call = queue.get(timeout=60)
    except Exception as error:
        print(f"{mode}: the child gave nothing ({type(error).__name__})")
        process.kill()
        break
    process.join()
    print(f"{mode}: import {imported:.3f} first call {first_call:.3f} process {time.perf_counter() - start:.3f} "
          f"exit code {process.exitcode}")
