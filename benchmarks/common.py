"""The machinery every op family shares: backends, synchronisation, inputs, one base class.

A family module only lists its cases and writes its op three times (NumPy float64 reference,
MLX, torch); `OpBenchmark` turns that into an asv benchmark over every case and backend, and
the tests use the very same definitions.

MLX is imported on first use, never at module level: `import mlx.core` creates a CUDA context,
and a GPU touched at import breaks asv's forkserver (its cases are forked from the process that
imported the suite). torch is imported with the suite: its import touches no GPU (CUDA starts at
first use), takes seconds, and asv's forkserver then pays it once instead of once per case.
"""

import abc
import concurrent.futures
import contextlib
import ctypes
import dataclasses
import functools
import importlib
import itertools
import os
import pkgutil
import re
import time
import zlib

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


# Checked at import so that a typo stops `asv run` at discovery, before anything is timed.
selected_backends()

PRECISIONS = ("strict", "tf32")
"""Precision modes of the families that use matrix units. `strict`: float32 is float32 on both
frameworks. `tf32`: both may multiply in TF32. Only CUDA has TF32; elsewhere `strict` is all."""


PRECISIONS_VARIABLE = "MLXBENCH_PRECISIONS"


def check_precision(precision):
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision mode {precision!r}; use one of {', '.join(PRECISIONS)}")
    return precision


def selected_precisions(value=None):
    """The modes `MLXBENCH_PRECISIONS` allows (both when unset); an unknown mode is an error."""
    return _selection(PRECISIONS_VARIABLE, value, PRECISIONS, "precision mode", PRECISIONS)


selected_precisions()

DTYPES = ("float32", "float16", "bfloat16")
"""The floating dtypes an op family runs in: its floating inputs are converted to it (indices stay
int32) and both frameworks compute and return it. The `tf32` mode exists for float32 only."""

DTYPES_VARIABLE = "MLXBENCH_DTYPES"
DEFAULT_DTYPES = ("float32",)  # each dtype is another process per case and backend: more only when asked


def selected_dtypes(value=None):
    """The dtypes `MLXBENCH_DTYPES` allows (float32 when unset); an unknown dtype is an error."""
    return _selection(DTYPES_VARIABLE, value, DTYPES, "dtype", DEFAULT_DTYPES)


selected_dtypes()

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
        """Whether this backend has a TF32 mode (CUDA only; Apple silicon and CPUs have none)."""
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


def usable_backend(name, precision="strict"):
    """The backend called `name`, or NotImplementedError (asv's skip) saying why it cannot run."""
    if name not in selected_backends():
        raise NotImplementedError(f"{name} is not in {BACKENDS_VARIABLE}={os.environ[BACKENDS_VARIABLE]}")
    if check_precision(precision) not in selected_precisions():
        raise NotImplementedError(f"{precision} is not in {PRECISIONS_VARIABLE}={os.environ[PRECISIONS_VARIABLE]}")
    backend = BACKENDS[name]
    if precision == "tf32" and backend.device in ("cpu", "mps"):
        raise NotImplementedError(f"{name} has no TF32 mode here: float32 is float32, only strict runs")
    if backend.framework == "mlx":
        fix_mlx_precision(precision)  # before anything in MLX runs
    reason = backend.unavailable_reason()
    if reason:
        raise NotImplementedError(f"{name}: {reason}")
    if precision == "tf32" and not backend.has_tf32():
        raise NotImplementedError(f"{name} has no TF32 mode here: float32 is float32, only strict runs")
    return backend


def verified_backend(name, precision="strict"):
    """`usable_backend`, after checking that a TF32-capable backend multiplies as its mode says."""
    backend = usable_backend(name, precision)
    if backend.has_tf32():
        measured = measured_precision(name, precision)
        if measured != precision:
            raise RuntimeError(f"{name} was asked for {precision} precision but multiplies in {measured}")
    return backend


_LABEL_TOKEN = re.compile(r"^(dim|axi)=(-?\d+(?:x\d+)*)$")


@dataclasses.dataclass(frozen=True)
class Case:
    """One row of the reference table: its input shapes and, for some families, an axis.

    The label is the row name after "Family / ", e.g. "dim=64x1024x128 axi=0".
    """

    shapes: tuple
    axis: int | None = None

    @classmethod
    def parse(cls, label):
        shapes, axis = [], None
        for token in label.split():
            match = _LABEL_TOKEN.match(token)
            if not match or (match[1] == "axi" and "x" in match[2]):
                raise ValueError(f"case label {label!r}: cannot read {token!r}; write dim=AxB... and axi=N")
            if match[1] == "dim":
                shapes.append(tuple(int(d) for d in match[2].split("x")))
            else:
                axis = int(match[2])
        return cls(tuple(shapes), axis)

    @property
    def label(self):
        words = ["dim=" + "x".join(map(str, shape)) for shape in self.shapes]
        if self.axis is not None:
            words.append(f"axi={self.axis}")
        return " ".join(words)

    @property
    def elements(self):
        return sum(int(np.prod(shape)) for shape in self.shapes)

    def scaled_down(self, max_elements):
        """The same case with every large dimension shrunk alike until its inputs fit `max_elements`.

        Equal sizes map to equal sizes, so contracted, concatenated and broadcast dimensions stay
        compatible; rank and axis are kept.
        """
        case = self
        while case.elements > max_elements:
            biggest = max(d for shape in case.shapes for d in shape)
            smaller = max(biggest // 4, 1)
            case = Case(tuple(tuple(smaller if d == biggest else d for d in shape) for shape in case.shapes), case.axis)
        return case


RANDOM_CHUNK = 1 << 22  # elements per child generator; fixed, so values never depend on the thread count


def random_floats(rng, shape, low=None, high=None):
    """Float32 random numbers of `shape` drawn from `rng`: standard normal, or uniform in [low, high).

    Filled in parallel, one child generator of `rng` per chunk: the inputs of a large case take
    seconds to draw on one core, and asv draws them again in every process it starts.
    """
    out = np.empty(shape, np.float32)
    flat = out.reshape(-1)
    starts = range(0, flat.size, RANDOM_CHUNK)

    def fill(generator, start):
        chunk = flat[start:start + RANDOM_CHUNK]
        if low is None:
            generator.standard_normal(out=chunk, dtype=np.float32)
        else:
            generator.random(out=chunk, dtype=np.float32)
            chunk *= high - low
            chunk += low

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(fill, rng.spawn(len(starts)), starts))
    return out


@functools.lru_cache(maxsize=1)
def host_inputs(family, label):
    """The case's inputs as NumPy arrays, the same on every machine (seeded by the row name): float32,
    and int32 where the family makes indices."""
    rng = np.random.default_rng(zlib.crc32(f"{family.__name__} / {label}".encode()))
    inputs = family().make_inputs(Case.parse(label), rng)
    return tuple(np.ascontiguousarray(a, dtype=np.int32 if np.issubdtype(np.asarray(a).dtype, np.integer)
                                      else np.float32) for a in inputs)


# asv reruns setup before every sample: inputs are built once per process and reused.
@functools.lru_cache(maxsize=1)
def backend_inputs(family, label, backend_name, dtype="float32"):
    backend = BACKENDS[backend_name]
    arrays = [backend.array(host, dtype if host.dtype == np.float32 else None) for host in host_inputs(family, label)]
    if backend.framework == "torch":
        arrays = family().torch_layout(*arrays)
    return tuple(arrays)


WARM_UP_SECONDS = 0.1
_warm = set()


def warm_up(key, backend, op, args):
    """The op's first calls in this process, outside every timing. The first builds kernels (MLX
    compiles at first call, seconds on CUDA), loads libraries and touches memory; more follow until
    WARM_UP_SECONDS have passed, so allocators and caches are steady. A slow case gets that one call
    only: a second costs seconds and changes nothing. This replaces asv's own warm-up (which would
    end inside a compiling first call and leave cold samples), so `warmup_time` is 0."""
    if key in _warm:
        return
    start = time.perf_counter()
    backend.run(op, args)
    while time.perf_counter() - start < WARM_UP_SECONDS:
        backend.run(op, args)
    _warm.add(key)


class OpBenchmark(abc.ABC):
    """An op family: its cases, its float64 reference and its MLX and torch forms, on every backend.

    Subclasses list `cases` (reference-table labels) and define `numpy`, `mlx` and `torch`; they
    take the case's inputs in order, plus `axis=` when the case has one.
    """

    cases = ()
    uses_matrix_units = False  # MatMul, Linear, convolutions: they get a `precision` parameter
    dtypes = DTYPES  # a family of float32 alone has no `dtype` parameter
    in_tables = True  # False for the floor: its figure heads a table, it is not a row
    # Largest accepted max|result - reference| / max|reference| (normwise, float32 rounding), and
    # for the tf32 mode: TF32 keeps 10 mantissa bits, about 3e-4 off on a 1024-term dot product.
    tolerance = 2e-6
    tf32_tolerance = 5e-3
    # In float16 and bfloat16, this many of the dtype's EPSILON. The reference starts from the inputs
    # rounded to the dtype, so what is left is the op's own rounding: its result's (half an epsilon)
    # and its steps' where it computes in the dtype. A family whose op rounds more says so here; none
    # needs to on the CPU backends (0.9 epsilon at most: their sums, matmuls, norms and softmax
    # accumulate in float32).
    epsilons = 2

    # asv's timing attributes, for the whole suite (asv_runner 0.3 runs setup before every
    # sample, so each sample is one synchronised call). One process per case and backend
    # (rounds = 1). `setup` warms the op up (`warm_up`), so asv's warm-up is off. Up to 25
    # samples, and no more once 3 s have passed: a fast case gets 25, a case of seconds gets one
    # (MLX's CPU matmul takes 48 s a call on the H100's host; a call that long varies by little).
    rounds = 1
    number = 1
    warmup_time = 0
    min_run_count = 1
    repeat = (1, 25, 3.0)
    timeout = 600

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.params = [list(cls.cases), list(BACKEND_NAMES)]
        cls.param_names = ["case", "backend"]
        if cls.uses_matrix_units:
            cls.params.append(list(PRECISIONS))
            cls.param_names.append("precision")
        if cls.dtypes != ("float32",):
            cls.params.append(list(cls.dtypes))
            cls.param_names.append("dtype")
        cls.time_latency = _skipping(OpBenchmark.time_latency, cls, _not_to_run)
        cls.time_throughput = _skipping(OpBenchmark.time_throughput, cls,
                                        lambda named: _not_to_run(named) or named["backend"] not in GPU_BACKENDS)
        cls.track_peak_memory = _skipping(OpBenchmark.track_peak_memory, cls, _not_to_run)

    @classmethod
    def modes(cls, *values):
        """(precision, dtype) from the parameters after case and backend; a family without one of
        them has its default, strict or float32."""
        named = dict(zip(cls.param_names[2:], values))
        return named.get("precision", "strict"), named.get("dtype", "float32")

    @classmethod
    def tolerance_for(cls, precision="strict", dtype="float32"):
        """The largest normwise error against float64 accepted in this precision mode and dtype."""
        if dtype != "float32":
            return cls.epsilons * EPSILON[dtype]
        return cls.tolerance if precision == "strict" else cls.tf32_tolerance

    # --- the op, defined once -------------------------------------------------------------

    def make_inputs(self, case, rng):
        """Float32 inputs for `case` (standard normal unless the op needs a domain)."""
        return [random_floats(rng, shape) for shape in case.shapes]

    @abc.abstractmethod
    def numpy(self, *inputs, **options):
        """The float64 reference."""

    @abc.abstractmethod
    def mlx(self, *inputs, **options):
        """MLX's best form of the op."""

    @abc.abstractmethod
    def torch(self, *inputs, **options):
        """torch's best form of the op."""

    def torch_layout(self, *tensors):
        """The inputs as torch's best form takes them (same bytes, torch's view); set-up, never timed."""
        return tensors

    def torch_result(self, result):
        """A torch result in the layout of the MLX and NumPy results (for checking, never timed)."""
        return result

    def comparable(self, result):
        """Any result (NumPy) in a form equal across frameworks where the op leaves freedom, e.g. the
        order of top-k values (for checking, never timed)."""
        return result

    # --- the roofline: the least work a case asks for -------------------------------------

    flops_per_element = None  # operations per element of the first input; None: FLOPs say nothing

    def output_elements(self, case):
        """Elements of the result (an elementwise op: as many as its first input)."""
        return int(np.prod(case.shapes[0]))

    def flops(self, case):
        """Floating-point operations the op needs at the least (exp, log, divide count one), or None."""
        return None if self.flops_per_element is None else self.flops_per_element * int(np.prod(case.shapes[0]))

    def bytes_moved(self, case):
        """Bytes the op must move at the least: each float32 input read once, the result written once."""
        return 4 * (case.elements + self.output_elements(case))

    # --- binding a case to a backend ------------------------------------------------------

    def prepare(self, label, backend, dtype="float32"):
        """The call and its inputs for one case on one backend, ready to time."""
        case = Case.parse(label)
        op = getattr(self, backend.framework)
        if case.axis is not None:
            op = functools.partial(op, axis=case.axis)
        return (backend.compiled(op, (type(self).__name__, label, dtype)),
                backend_inputs(type(self), label, backend.name, dtype))

    def compute(self, label, backend, precision="strict", dtype="float32"):
        """The op's result on `backend`, as NumPy, in MLX's layout."""
        with backend.session(precision), self.lacking_dtype_skips(label, backend, dtype):
            op, args = self.prepare(label, backend, dtype)
            result = backend.to_numpy(backend.run(op, args))
        if backend.framework == "torch":
            result = self.torch_result(result)
        return self.comparable(result)

    def row_name(self, label):
        return f"{type(self).__name__} / {label}"

    def reference(self, label, dtype="float32"):
        case = Case.parse(label)
        inputs = [rounded_to(a, dtype) if a.dtype == np.float32 else a for a in host_inputs(type(self), label)]
        options = {} if case.axis is None else {"axis": case.axis}
        return self.comparable(self.numpy(*inputs, **options))

    # --- asv ------------------------------------------------------------------------------

    def setup(self, case, backend, *modes):
        precision, dtype = self.modes(*modes)
        self.backend = verified_backend(backend, precision)
        self._session = contextlib.ExitStack()
        self._session.enter_context(self.backend.session(precision))
        with self.lacking_dtype_skips(case, self.backend, dtype):
            self.op, self.args = self.prepare(case, self.backend, dtype)
            warm_up((type(self).__name__, case, backend, precision, dtype), self.backend, self.op, self.args)

    @contextlib.contextmanager
    def lacking_dtype_skips(self, label, backend, dtype):
        """An error inside that means the framework lacks the op in `dtype` on `backend` turns into
        NotImplementedError (asv's skip), saying so. Lacking is told by trying, not from a list: a small
        form of the case (same rank and axis) fails in `dtype` as well but runs in float32. An error of
        the full-size case alone is a failure, as in float32, never a skip."""
        try:
            yield
        except Exception as error:
            if dtype == "float32" or isinstance(error, NotImplementedError) or not self._lacks(label, backend, dtype):
                raise
            first_line = (str(error).splitlines() or [""])[0]
            raise NotImplementedError(f"{backend.name} has no {dtype} {type(self).__name__} here "
                                      f"({type(error).__name__}: {first_line})") from error

    def _lacks(self, label, backend, dtype):
        small = Case.parse(label).scaled_down(DTYPE_PROBE_ELEMENTS).label

        def runs(probe_dtype):
            try:
                backend.run(*self.prepare(small, backend, probe_dtype))
            except Exception:
                return False
            return True

        return runs("float32") and not runs(dtype)

    def teardown(self, *params):
        # asv calls teardown after a skipping setup too, when there is no session.
        if hasattr(self, "_session"):
            self._session.close()

    def time_latency(self, *params):
        """One call and its synchronisation: the latency the reference table reports."""
        self.backend.run(self.op, self.args)

    def time_throughput(self, *params):
        """BACK_TO_BACK calls issued back to back, one synchronisation at the end (GPU backends).

        asv reports the time of all BACK_TO_BACK calls; the tables divide it by BACK_TO_BACK.
        """
        self.backend.run_back_to_back(self.op, self.args, BACK_TO_BACK)

    # asv's own peakmem_ is not added: it is the process's maximum RSS since it started, so it
    # holds the imports (torch alone is hundreds of MB), the host and device copies of the inputs
    # and every warm-up call, and it sees no GPU memory at all: it would say more about the harness
    # than the op, for another process per case and backend.
    def track_peak_memory(self, *params):
        """Peak bytes one synchronised call holds beyond what was held just before it: the result and
        every temporary alive at once. After `setup`'s warm-up, so it is the steady state (kernels
        built, caches warm), not the first call's. MLX: its allocator's peak counter; cuda: torch's
        caching allocator's peak (memory_allocated, not the cache it reserves); cpu: the process's
        resident high-water mark (Linux only); mps: none (torch keeps no peak there), skipped."""
        return self.backend.peak_memory(self.op, self.args)

    track_peak_memory.unit = "bytes"
    # A setup of its own, run by asv after the class's: the skip of a backend that cannot measure.
    track_peak_memory.setup = lambda case, backend, *precision: _skip_without_memory_counter(backend)


def _skip_without_memory_counter(backend_name):
    reason = BACKENDS[backend_name].memory_unavailable_reason()
    if reason:
        raise NotImplementedError(f"{backend_name}: {reason}")


DTYPE_PROBE_ELEMENTS = 2**16  # the small form of a case that tells a lacking dtype from a failure


def _skipping(method, family, skipped):
    """`method` skipped by asv (its setup never runs) for every parameter combination of `family` that
    `skipped` accepts (it gets the combination as {parameter name: value})."""

    @functools.wraps(method)
    def skipping_method(self, *values):
        return method(self, *values)

    skipping_method.skip_params = [combo for combo in itertools.product(*family.params)
                                   if skipped(dict(zip(family.param_names, combo)))]
    return skipping_method


def _not_to_run(named):
    """A dtype that MLXBENCH_DTYPES leaves out, or TF32 with a dtype other than float32 (TF32 is a way
    to multiply float32: nothing else has it)."""
    dtype = named.get("dtype")
    if dtype is None:  # a float32-only family: what MLXBENCH_DTYPES selects does not concern it
        return False
    return dtype not in selected_dtypes() or (dtype != "float32" and named.get("precision") == "tf32")


def op_families():
    """Every op family of the suite (the `OpBenchmark` subclasses of its bench_* modules), by name."""
    for module in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if module.name.startswith("bench_"):
            importlib.import_module(f"{__package__}.{module.name}")
    return sorted(OpBenchmark.__subclasses__(), key=lambda family: family.__name__)
