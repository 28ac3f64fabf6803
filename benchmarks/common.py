"""The machinery every op family shares: cases, seeded inputs, the warm-up, one base class.

A family module only lists its cases and writes its op three times (NumPy float64 reference,
MLX, torch); `OpBenchmark` turns that into an asv benchmark over every case and backend, and
the tests use the very same definitions. Where a call runs, and how it is waited for, is
`backends.py`; a family needs nothing from there but what this module passes on (`mx`, `nn`,
`torch`, `F`, `mlx_compiled`).
"""

import abc
import concurrent.futures
import contextlib
import dataclasses
import functools
import importlib
import itertools
import os
import pkgutil
import re
import statistics
import time
import zlib

import numpy as np

from .backends import (  # noqa: F401 (mx, nn, torch, F, mlx_compiled and the names tools read: passed on)
    BACK_TO_BACK, BACKEND_NAMES, BACKENDS, BACKENDS_VARIABLE, DTYPES, EPSILON, GPU_BACKENDS, PRECISIONS,
    PRECISIONS_VARIABLE, STRICT_WITHOUT_MATMUL, F, MLXCompiledBackend, fix_mlx_precision, measured_precision,
    mlx_compiled, mx, nn, rounded_to, selected_backends, selected_dtypes, selected_precisions, torch, usable_backend,
    verified_backend, WITHOUT_TF32)

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
        compatible; rank and axis are kept. The axis's length goes last: an error that grows with the
        length of what is reduced or scanned (a sum in half precision) must show at the tested size.
        """
        case = self
        kept = None if self.axis is None else self.shapes[0][self.axis]
        while case.elements > max_elements:
            sizes = {d for shape in case.shapes for d in shape if d > 1}
            biggest = max(sizes - {kept} or sizes)
            smaller = max(biggest // 4, 1)
            if biggest == kept:
                kept = smaller
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
# On a GPU backend the warm-up goes on, in slices of STEADY_SLICE_SECONDS, while a slice's median
# call is more than STEADY_FACTOR faster than the slice's before it, up to STEADY_LIMIT_SECONDS.
STEADY_SLICE_SECONDS = 0.05
STEADY_FACTOR = 1.01
STEADY_LIMIT_SECONDS = 1.0
_warm = set()


def still_speeding_up(slices):
    """Whether the last slice's median call is more than STEADY_FACTOR below the one's before it."""
    if len(slices) < 2 or not slices[-1] or not slices[-2]:
        return True
    return statistics.median(slices[-1]) * STEADY_FACTOR < statistics.median(slices[-2])


def warm_up(key, backend, op, args):
    """The op's first calls in this process, outside every timing. The first builds kernels (MLX
    compiles at first call, seconds on CUDA), loads libraries and touches memory; more follow until
    WARM_UP_SECONDS have passed, so allocators and caches are steady. This replaces asv's own warm-up
    (which would end inside a compiling first call and leave cold samples); asv's is kept short
    (`OpBenchmark.warmup_time`), for asv's own timing path.

    On a GPU backend the warm-up starts after the first call: that call alone takes 25-120 ms there
    with every kernel already compiled (H200, 2026-11-29), so counted in, it left most cases no
    warm-up at all. And it ends once the op is steady, not at a fixed time: two cases (MLX's Gather
    `32000x4096`, torch's tf32 Linear `100x1024x256`) still sped up by 6 and 15 % for 0.3 s after a
    fixed 0.1 s, where asv's samples fell (docs/measurements/fidelity-h200-x2-2026-11-29.md), while
    most cases are steady within 0.1 s. On a CPU backend a first call that outlasts the warm-up means
    a slow case, which gets that one call only: a second costs seconds (48 s for MLX's CPU matmul on
    the H100's host) and changes nothing."""
    if key in _warm:
        return
    start = time.perf_counter()
    backend.run(op, args)
    if backend.name not in GPU_BACKENDS:
        while time.perf_counter() - start < WARM_UP_SECONDS:
            backend.run(op, args)
    else:
        start = time.perf_counter()
        slices = []
        while time.perf_counter() - start < STEADY_LIMIT_SECONDS:
            elapsed = time.perf_counter() - start
            if elapsed >= STEADY_SLICE_SECONDS * len(slices):
                if elapsed >= WARM_UP_SECONDS and not still_speeding_up(slices):
                    break
                slices.append([])
            began = time.perf_counter()
            backend.run(op, args)
            slices[-1].append(time.perf_counter() - began)
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
    # A selection, copy or comparison of its inputs: every backend must give the reference's result
    # bit for bit, in every dtype (tolerance 0).
    exact = False

    # asv's timing attributes, for the whole suite (asv_runner 0.3 runs setup before every
    # sample, so each sample is one synchronised call). `setup` warms the op up (`warm_up`); asv's
    # warm-up only warms asv's path (below). Up to 25 samples, and no more once 3 s have passed: a fast case gets 25,
    # a case of seconds gets one (MLX's CPU matmul takes 48 s a call on the H100's host; a call that
    # long varies by little).
    # Processes: a GPU call's time depends on the process it runs in (H200, 2026-11-29: three
    # processes of torch's BCE `1000000` settled at 37, 54 and 57 us, each steady within itself), so
    # one process per figure cannot repeat within 10 %. Three forked from one asv run's server
    # (`-a rounds=3`) still left 70 of 223 figures beyond 10 % back to back, and a module's cases
    # leaned one way together, as if what one run's processes share (the server's address space,
    # those minutes) moved them all. So `make bench` runs the GPU backends' cases in `gpu_rounds`
    # asv runs of their own, minutes apart, each adding its samples to the last's (asv's
    # --append-samples): the figure is the median of them all. The CPU backends' cases run in one
    # (`rounds`): theirs take seconds, and moved 1.9 % back to back (2-core box, 2026-11-25).
    # Figures and commands: docs/benchmark-notes.md.
    # asv's warm-up, after `warm_up`: asv's own timing path (its timer, `redo_setup`, this class's
    # `time_` methods) is slow the first times through. Without it, a process's first sample was the
    # median of 45-65 us above its later ones and its second 17-35 us, on both GPU backends and at
    # every size (669 processes, H200, 2026-11-29), and 40-170 us on the CPU backends' small cases
    # (this project's 2-core box); 0.02 s of it brought the first within 3 us there. A case slower
    # than that gets one call, which asv keeps as the sample when the case outlasts `repeat`'s 3 s.
    warmup_time = 0.02
    rounds = 1
    gpu_rounds = 3
    number = 1
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
        them has its default: float32, and strict (`STRICT_WITHOUT_MATMUL`: its op multiplies no
        matrices, so `verified_backend` need not measure how the backend multiplies)."""
        named = dict(zip(cls.param_names[2:], values))
        return named.get("precision", STRICT_WITHOUT_MATMUL), named.get("dtype", "float32")

    @classmethod
    def tolerance_for(cls, precision="strict", dtype="float32"):
        """The largest normwise error against float64 accepted in this precision mode and dtype."""
        if cls.exact:
            return 0.0
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
        """The op's result on `backend`, as NumPy, in MLX's layout, and the name of the dtype the
        framework returned it in (NumPy has no bfloat16: such a result arrives as float32)."""
        with backend.session(precision), self.lacking_dtype_skips(label, backend, dtype):
            op, args = self.prepare(label, backend, dtype)
            returned = backend.run(op, args)
            result, returned_dtype = backend.to_numpy(returned), backend.dtype_name(returned)
        if backend.framework == "torch":
            result = self.torch_result(result)
        return self.comparable(result), returned_dtype

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
        the full-size case alone is a failure, as in float32, never a skip. So is a NotImplementedError
        of the framework's own (torch's word for an op it lacks on a device): asv would skip it."""
        try:
            yield
        except Exception as error:
            first_line = (str(error).splitlines() or [""])[0]
            if dtype != "float32" and self._lacks(label, backend, dtype):
                raise NotImplementedError(f"{backend.name} has no {dtype} {type(self).__name__} here "
                                          f"({type(error).__name__}: {first_line})") from error
            if isinstance(error, NotImplementedError):
                raise RuntimeError(f"{backend.name} cannot run {type(self).__name__} / {label} "
                                   f"(NotImplementedError: {first_line})") from error
            raise

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
