"""Backends: where a call runs and how it is waited for, in which precision and dtype, and what it
holds in memory. One `Backend` per name in BACKEND_NAMES; the environment variables that select
backends, precision modes and dtypes are read (and checked) here, at import.

MLX is imported on first use, never at module level: `import mlx.core` creates a CUDA context,
and a GPU touched at import breaks asv's forkserver (its cases are forked from the process that
imported the suite). torch is imported with the suite: its import touches no GPU (CUDA starts at
first use), takes seconds, and asv's forkserver then pays it once instead of once per case. asv's
discovery, which only lists the benchmarks, skips it.
"""

import abc
import contextlib
import ctypes
import functools
import importlib
import os
import sys

import numpy as np

BACKEND_NAMES = ("mlx_gpu", "mlx_cpu", "cpu", "mps", "cuda", "mlx_gpu_compile")
BACKENDS_VARIABLE = "MLXBENCH_BACKENDS"


class _LazyModule:
    """A module imported on first attribute access, so that importing the suite touches no GPU."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)


mx = _LazyModule("mlx.core")
nn = _LazyModule("mlx.nn")
torch = _LazyModule("torch")
F = _LazyModule("torch.nn.functional")

# Not in asv's discovery (`benchmark.py discover ...`, and `tools.bench`'s own): it only lists the
# benchmarks, runs none, and would pay the import's seconds in every asv run's start.
if sys.argv[1:2] != ["discover"]:
    with contextlib.suppress(ImportError):  # without torch the torch backends say why they cannot run
        importlib.import_module("torch.nn.functional")


def mlx_compiled(fn):
    """`fn` as MLX's fused kernel (`mx.compile`, shapeless), compiled once on first call.

    This is how `mlx.nn` ships its own activations, so it is MLX's best form of them.
    """
    compiled = functools.cache(lambda: mx.compile(fn, shapeless=True))

    @functools.wraps(fn)
    def call(*args):
        return compiled()(*args)

    return call


def _selection(variable, value, allowed, noun, default):
    """The names a comma-separated environment variable selects (`default` when unset or empty); an
    unknown name is one line naming the fix."""
    if value is None:
        value = os.environ.get(variable, "")
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"{variable}={value!r} names unknown {noun} {', '.join(unknown)}; "
                         f"use a comma-separated subset of {','.join(allowed)}")
    return names or default


def selected_backends(value=None):
    """The backend names `MLXBENCH_BACKENDS` allows (all when unset); an unknown name is an error."""
    return _selection(BACKENDS_VARIABLE, value, BACKEND_NAMES, "backend", BACKEND_NAMES)


PRECISIONS = ("strict", "tf32")
"""Precision modes of the families that use matrix units. `strict`: float32 is float32 on both
frameworks. `tf32`: both may multiply in TF32. Only CUDA has TF32 on both sides; MLX on Apple GPUs
with neural accelerators also multiplies float32 in reduced precision unless MLX_ENABLE_TF32=0, but
torch's MPS has no such mode, so on Apple silicon `strict` is all."""


PRECISIONS_VARIABLE = "MLXBENCH_PRECISIONS"


def check_precision(precision):
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision mode {precision!r}; use one of {', '.join(PRECISIONS)}")
    return precision


def selected_precisions(value=None):
    """The modes `MLXBENCH_PRECISIONS` allows (both when unset); an unknown mode is an error."""
    return _selection(PRECISIONS_VARIABLE, value, PRECISIONS, "precision mode", PRECISIONS)


DTYPES = ("float32", "float16", "bfloat16")
"""The floating dtypes an op family runs in: its floating inputs are converted to it (indices stay
int32) and both frameworks compute and return it. The `tf32` mode exists for float32 only."""

DTYPES_VARIABLE = "MLXBENCH_DTYPES"
DEFAULT_DTYPES = ("float32",)  # each dtype is another process per case and backend: more only when asked


def selected_dtypes(value=None):
    """The dtypes `MLXBENCH_DTYPES` allows (float32 when unset); an unknown dtype is an error."""
    return _selection(DTYPES_VARIABLE, value, DTYPES, "dtype", DEFAULT_DTYPES)


def _check_selections():
    """A typo in a selection stops whatever imports the suite, asv's discovery or a tool, in one line
    before anything runs (as SystemExit: no traceback)."""
    try:
        selected_backends(), selected_precisions(), selected_dtypes()
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


_check_selections()

EPSILON = {"float16": 2.0**-10, "bfloat16": 2.0**-7}  # 9.8e-4, 7.8e-3: spacing of the dtype's numbers at 1


def rounded_to(host, dtype):
    """Float32 `host` as float64, after rounding to `dtype` as a backend does when it converts (to
    nearest, ties to even): the reference then starts from the very values the backends compute on."""
    if dtype == "float16":
        return host.astype(np.float16).astype(np.float64)
    if dtype == "bfloat16":  # the top 16 bits of float32, rounded on the 17th (NumPy has no bfloat16)
        bits = host.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return host.astype(np.float64)


# MLX's CUDA backend reads MLX_ENABLE_TF32 once per process, at first use, and multiplies float32
# in TF32 unless it is 0. The mode it was started with is kept here; strict unless asked before.
_mlx_precision = {"mode": None}


def fix_mlx_precision(precision):
    if _mlx_precision["mode"] is None:
        os.environ["MLX_ENABLE_TF32"] = "1" if precision == "tf32" else "0"
        _mlx_precision["mode"] = precision
    elif _mlx_precision["mode"] != precision:
        raise RuntimeError(
            f"MLX started this process in {_mlx_precision['mode']} precision and cannot switch to {precision}; "
            "run the case in a process of its own"
        )


@functools.lru_cache(maxsize=None)
def measured_precision(backend_name, mode):
    """'tf32' or 'strict': how the backend multiplies float32 in a session of `mode` (a 1024-term matmul).

    Against float64, float32 is about 1e-6 off and TF32 about 3e-4: the precision is read from the error.
    """
    backend = BACKENDS[backend_name]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 256, 1024), dtype=np.float32)
    b = b.T.copy()
    expected = a.astype(np.float64) @ b.astype(np.float64)
    op = (lambda x, y: mx.matmul(x, y)) if backend.framework == "mlx" else (lambda x, y: torch.matmul(x, y))
    with backend.session(mode):
        result = backend.to_numpy(backend.run(op, (backend.array(a), backend.array(b))))
    error = np.max(np.abs(result - expected)) / np.max(np.abs(expected))
    return "tf32" if error > 3e-5 else "strict"


class Backend(abc.ABC):
    """One framework on one device: how arrays get there and how a call is waited for."""

    def __init__(self, name, device):
        self.name = name
        self.device = device

    @abc.abstractmethod
    def unavailable_reason(self):
        """Why this machine cannot run the backend, or None when it can."""

    @abc.abstractmethod
    def session(self, precision="strict"):
        """Context in which calls run (device, precision, torch's inference mode)."""

    def has_tf32(self):
        """Whether this backend has a TF32 mode to compare (CUDA only: torch has none on MPS or CPUs)."""
        return False

    @abc.abstractmethod
    def array(self, host, dtype=None):
        """`host` (a NumPy array) on this backend, converted to `dtype` (a name of DTYPES; None: host's
        own), fully materialised."""

    @abc.abstractmethod
    def run(self, fn, args):
        """The timed call: build the op afresh from `args` and wait until it has finished."""

    @abc.abstractmethod
    def run_back_to_back(self, fn, args, calls):
        """`calls` ops issued without waiting, then one wait for all of them (throughput)."""

    @abc.abstractmethod
    def to_numpy(self, result):
        """A result of `run` as a NumPy array (bfloat16 as float32, which holds it exactly)."""

    def dtype_name(self, result):
        """The name of a result's dtype in the framework's own terms ("float32", "bfloat16", "int64")."""
        return str(result.dtype).rpartition(".")[2]

    def compiled(self, fn, key):
        """`fn` as this backend calls it for case `key` (the same `fn` but on mlx_gpu_compile)."""
        return fn

    @abc.abstractmethod
    def memory_unavailable_reason(self):
        """Why `peak_memory` cannot measure on this machine, or None when it can."""

    @abc.abstractmethod
    def peak_memory(self, fn, args):
        """Bytes at the peak of one `run(fn, args)` beyond what was held just before it."""


class MLXBackend(Backend):
    framework = "mlx"

    def unavailable_reason(self):
        try:
            importlib.import_module("mlx.core")
        except ImportError as error:
            return f"mlx is not importable ({error})"
        if self.device == "gpu" and not _mlx_has_gpu():
            return "MLX has no GPU backend on this machine (neither Metal nor CUDA)"
        return None

    def has_tf32(self):
        return self.device == "gpu" and mx.cuda.is_available()

    @contextlib.contextmanager
    def session(self, precision="strict"):
        fix_mlx_precision(precision)
        previous = mx.default_device()
        mx.set_default_device(getattr(mx, self.device))
        try:
            yield
        finally:
            mx.set_default_device(previous)

    def array(self, host, dtype=None):
        result = mx.array(host)
        if dtype is not None:
            result = result.astype(getattr(mx, dtype))
        mx.eval(result)
        return result

    def run(self, fn, args):
        result = fn(*args)
        mx.eval(result)
        return result

    def run_back_to_back(self, fn, args, calls):
        for _ in range(calls):
            mx.async_eval(fn(*args))
        mx.synchronize()

    def to_numpy(self, result):
        return np.array(result.astype(mx.float32) if result.dtype == mx.bfloat16 else result)

    def memory_unavailable_reason(self):
        if _mlx_memory_counters() is None:
            return f"this MLX ({mx.__version__}) has no peak-memory counter for its {self.device}"
        return None

    def peak_memory(self, fn, args):
        counters = _mlx_memory_counters()
        if counters is None:
            raise NotImplementedError(self.memory_unavailable_reason())
        # MLX on CUDA lets go of a finished call's buffers on a worker thread after `mx.eval` returns;
        # unless that has happened, the last output still counts as held when its buffer is handed to
        # the next, and the peak reads 0 (seen on the H100 for the fused float16 attention).
        mx.synchronize()
        before = counters.get_active_memory()
        counters.reset_peak_memory()
        self.run(fn, args)
        # MLX restarts the peak at 0, not at what is held, and a call that allocates nothing leaves it there.
        return max(counters.get_peak_memory(), before) - before


def _mlx_memory_counters():
    """The module with MLX's allocator counters (active and peak bytes), or None."""
    if hasattr(mx, "reset_peak_memory"):
        return mx
    # Releases before the counters moved to `mx` kept them in `mx.metal`, counting Metal's allocator only
    # (which on macOS serves the CPU device too); elsewhere they read 0, which is no measurement.
    metal = getattr(mx, "metal", None)
    if metal is not None and hasattr(metal, "reset_peak_memory") and metal.is_available():
        return metal
    return None


class MLXCompiledBackend(MLXBackend):
    """MLX on the GPU with the whole op wrapped in `mx.compile`: one fused graph where MLX can fuse.

    Compiled once per case and process (`compiled`, from `setup`); the trace and the kernel build
    happen in the first call, which `warm_up` makes outside every timing."""

    def compiled(self, fn, key):
        cache = self.__dict__.setdefault("_compiled", {})
        if key not in cache:
            cache[key] = mx.compile(fn)
        return cache[key]


def _mlx_has_gpu():
    if hasattr(mx, "is_available"):
        return mx.is_available(mx.gpu)
    return mx.metal.is_available()  # releases before mx.is_available were Metal-only


class TorchBackend(Backend):
    framework = "torch"

    def unavailable_reason(self):
        try:
            importlib.import_module("torch")
        except ImportError as error:
            return f"torch is not importable ({error})"
        if self.device == "cuda" and not torch.cuda.is_available():
            return "torch has no CUDA device on this machine"
        if self.device == "mps" and os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1":
            return "PYTORCH_ENABLE_MPS_FALLBACK=1 would run the ops MPS lacks on the CPU, timed as mps; unset it"
        if self.device == "mps" and not torch.backends.mps.is_available():
            return "torch has no MPS device on this machine"
        return None

    def has_tf32(self):
        return self.device == "cuda"

    @contextlib.contextmanager
    def session(self, precision="strict"):
        if self.device == "cuda":
            # Both set explicitly: torch's defaults differ (matmul float32, cuDNN convolutions TF32).
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            torch.backends.cudnn.allow_tf32 = precision == "tf32"
            # torch's float16 and bfloat16 matmuls may sum partial products in the dtype by default;
            # MLX's CUDA ones sum in float32 (cuBLAS's 32F compute type).
            torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
            torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
            # torch's own autotuner: each convolution shape's first call (the warm-up) times cuDNN's
            # algorithms and keeps the fastest, as a user of fixed shapes would ask for. Without it,
            # cuDNN's heuristics gave the strict Conv1d 100x256x256 an algorithm of 21.3 ms with a
            # 14.6 GB workspace; with it, 0.106 ms and 28.9 MB (H100, 2026-12-05). MLX has no such
            # switch: its convolutions take cuDNN's heuristic plan (mlx/backend/cuda/cudnn_utils.cpp).
            torch.backends.cudnn.benchmark = True
        with torch.inference_mode():
            yield

    def array(self, host, dtype=None):
        result = torch.from_numpy(host).to(self.device, dtype=None if dtype is None else getattr(torch, dtype))
        self.synchronize()
        return result

    def run(self, fn, args):
        result = fn(*args)
        self.synchronize()
        return result

    def run_back_to_back(self, fn, args, calls):
        for _ in range(calls):
            fn(*args)
        self.synchronize()

    def synchronize(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
        elif self.device == "mps":
            torch.mps.synchronize()

    def to_numpy(self, result):
        return (result.float() if result.dtype == torch.bfloat16 else result).cpu().numpy()

    def memory_unavailable_reason(self):
        if self.device == "mps":
            # What MPS holds after the call is the result, whose size `output_elements` already
            # states; recorded as the peak it would hide every temporary the op makes.
            return ("torch's MPS allocator keeps no peak counter (torch.mps has current_allocated_memory "
                    "and driver_allocated_memory only), so there is no peak to record")
        if self.device == "cpu":
            return rss_peak_unavailable_reason()
        return None

    def peak_memory(self, fn, args):
        if self.device == "cuda":
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()  # the peak restarts from what is allocated now
            self.run(fn, args)
            return torch.cuda.max_memory_allocated() - before
        if self.memory_unavailable_reason():
            raise NotImplementedError(self.memory_unavailable_reason())
        return rss_peak(lambda: self.run(fn, args))


# Linux keeps the process's resident high-water mark (VmHWM) and resets it to the current RSS when
# "5" is written to clear_refs (Linux 4.0 and later). macOS has no way to reset its peak.
CLEAR_REFS = "/proc/self/clear_refs"
PROC_STATUS = "/proc/self/status"


@functools.cache
def rss_peak_unavailable_reason():
    """Why process RSS cannot give a call's peak here, or None (checked once per process)."""
    try:
        with open(CLEAR_REFS, "w") as clear_refs:
            clear_refs.write("5")
        _status_bytes("VmHWM")
    except (OSError, KeyError) as error:
        return f"the process's peak RSS cannot be reset here ({CLEAR_REFS}, {PROC_STATUS}: {error}), " \
               "so it would hold every earlier peak"
    if not hasattr(_libc(), "malloc_trim"):
        return "the C library has no malloc_trim, so buffers freed by earlier calls, still resident, would be " \
               "reused unseen by RSS"
    return None


@functools.cache
def _libc():
    return ctypes.CDLL(None)


def rss_peak(call):
    """Bytes by which the process's RSS peaked during `call()` above its RSS just before (where
    `rss_peak_unavailable_reason` has none).

    The heap is trimmed first: glibc keeps the buffers earlier calls freed (up to 32 MB each) resident
    for reuse, and a call reusing them would read 0; trimmed, their pages count again when touched
    (but for a first and last page shared with a neighbour, resident before: up to 8 kB low).
    Read while the result is alive: Linux then reads the exact RSS, but it records a peak at a free
    from per-CPU counters, which may hold back up to max(32, 2 x CPUs) pages on each CPU for each of
    RSS's three parts (anonymous, file, shared: 0.75 MB on 2 cores, 6 MB on 16). A peak made by
    temporaries freed inside the call can read low by that much (0.3 MB of 32 MB here).
    """
    _libc().malloc_trim(0)
    with open(CLEAR_REFS, "w") as clear_refs:
        clear_refs.write("5")
    before = _status_bytes("VmRSS")
    result = call()  # held until the peak is read
    peak = _status_bytes("VmHWM") - before
    del result
    return peak


def _status_bytes(field):
    with open(PROC_STATUS) as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0]) * 1024  # kB
    raise KeyError(f"no {field}")


# glibc's malloc hands freed memory back to the kernel on its own schedule, and torch's CPU calls
# allocate through it (MLX keeps its own buffer cache). Whether a call's temporaries end at the top of
# the heap, and so are handed back, depends on where small allocations happened to land, and whether
# a freed 8 MB output is mapped afresh depends on whether the mmap threshold, which rises as large
# blocks are freed, has risen yet. So a process of torch's RMSNorm `1x32x8192` on cpu took 800 us a
# call with 480 page faults, or 70 us with none, by process (4 of 6 slow), and PReLU `128x16x1024`
# 3 ms or 0.15 ms by when (docs/measurements/vm-cpu-page-faults-2026-12-05). Fixed at glibc's largest
# automatic threshold (32 MB) and with 64 MB kept free at the heap's top, every process reuses its
# pages, as the faster processes did already; larger outputs are mapped, and faulted in, on every call
# in every process. Set when the suite is imported, so asv's forkserver hands it to every case.
# PyTorch's own CPU tuning advice (an allocator that keeps freed memory) is the same remedy.
# `rss_peak` trims the heap itself before it measures.
MALLOPT = (("M_MMAP_THRESHOLD", -3, 32 << 20), ("M_TOP_PAD", -2, 64 << 20))  # parameter numbers: glibc's malloc.h


def keep_freed_memory():
    """Whether glibc's malloc now keeps the memory calls free, as MALLOPT sets (False where the C
    library has no mallopt, as on macOS)."""
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt) and all(mallopt(param, value) == 1 for _, param, value in MALLOPT)


keep_freed_memory()

GPU_BACKENDS = ("mlx_gpu", "mps", "cuda", "mlx_gpu_compile")
BACK_TO_BACK = 10  # calls per throughput sample; asv's figure for time_throughput is for all of them

BACKENDS = {
    "mlx_gpu": MLXBackend("mlx_gpu", "gpu"),
    "mlx_cpu": MLXBackend("mlx_cpu", "cpu"),
    "cpu": TorchBackend("cpu", "cpu"),
    "mps": TorchBackend("mps", "mps"),
    "cuda": TorchBackend("cuda", "cuda"),
    "mlx_gpu_compile": MLXCompiledBackend("mlx_gpu_compile", "gpu"),
}

# CPUs and Apple's GPU have no TF32 on any machine: their float32 is float32 in either mode. (MLX's
# GPU has it or not by machine: CUDA, or Metal.)
WITHOUT_TF32 = tuple(name for name, backend in BACKENDS.items() if backend.device in ("cpu", "mps"))


def usable_backend(name, precision="strict"):
    """The backend called `name`, or NotImplementedError (asv's skip) saying why it cannot run."""
    if name not in selected_backends():
        raise NotImplementedError(f"{name} is not in {BACKENDS_VARIABLE}={os.environ[BACKENDS_VARIABLE]}")
    if check_precision(precision) not in selected_precisions():
        raise NotImplementedError(f"{precision} is not in {PRECISIONS_VARIABLE}={os.environ[PRECISIONS_VARIABLE]}")
    backend = BACKENDS[name]
    if precision == "tf32" and name in WITHOUT_TF32:
        raise NotImplementedError(f"{name} has no TF32 mode here: float32 is float32, only strict runs")
    if backend.framework == "mlx":
        fix_mlx_precision(precision)  # before anything in MLX runs
    reason = backend.unavailable_reason()
    if reason:
        raise NotImplementedError(f"{name}: {reason}")
    if precision == "tf32" and not backend.has_tf32():
        raise NotImplementedError(f"{name} has no TF32 mode here: float32 is float32, only strict runs")
    return backend


class _StrictWithoutMatmul(str):
    """"strict", for an op that multiplies no matrices: the backend's mode of multiplying float32 does
    not touch it, so `verified_backend` leaves it unmeasured (the check's matmul would start cuBLAS in
    every GPU process of such a family). The families' `modes` hand it out; to all else it is "strict"."""


STRICT_WITHOUT_MATMUL = _StrictWithoutMatmul("strict")


def verified_backend(name, precision="strict"):
    """`usable_backend`, after checking that a GPU backend multiplies as its mode says: CUDA's TF32, and
    MLX's reduced-precision float32 on Apple GPUs with neural accelerators, are on unless turned off."""
    backend = usable_backend(name, precision)
    if backend.device != "cpu" and precision is not STRICT_WITHOUT_MATMUL:
        measured = measured_precision(name, precision)
        if measured != precision:
            raise RuntimeError(f"{name} was asked for {precision} precision but multiplies in {measured}")
    return backend
