"""Every case computes the same function on every backend, in every dtype of its family.

Each backend's output must equal the float64 NumPy reference within the family's tolerance for the
precision mode and dtype, and the backends must agree with each other, on the case's own seeded random
inputs (rounded to the dtype, for the reference too). Each backend's test makes every comparison of its
own, whatever order or subset of the tests pytest runs. Cases whose inputs exceed TEST_MAX_ELEMENTS
(HALF_TEST_MAX_ELEMENTS in float16 and bfloat16) are checked at a scaled-down shape of the same rank
and axis; the test id says which ("reference-shape" or "scaled-to-..."), and names the dtype unless
it is float32.
"""

import functools
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from benchmarks.backends import BACKENDS_VARIABLE, selected_backends
from benchmarks.common import (BACKEND_NAMES, BACKENDS, EPSILON, PRECISIONS, Case, MLXCompiledBackend, host_inputs,
                               op_families, usable_backend, verified_backend)
from benchmarks.known_failures import (LOOSER_ROUNDING, KnownFailure, known_failure, lacking_dtype, looser_rounding,
                                       mlx_gpu_platform)
from conftest import ROOT

TEST_MAX_ELEMENTS = 2**24  # 64 MB of float32 inputs: the reference shapes that a 2-core CI box affords
# Smaller in float16 and bfloat16: CPU matmuls in them take tens of seconds at 2**24 (torch's float16
# MatMul 43 s), and where a framework sums in the dtype, the error already shows at 2**20.
HALF_TEST_MAX_ELEMENTS = 2**20


def normwise_error(result, expected):
    scale = max(float(np.max(np.abs(expected))), np.finfo(np.float32).tiny)
    # One float64 temporary rather than a float64 copy of each and of their difference: two float32
    # outputs of 16M elements compare in 0.07 s instead of 0.3 s, and each test compares its backend
    # with every other one.
    difference = np.subtract(result, expected, dtype=np.float64)
    return float(max(difference.max(), -difference.min()) / scale)


@functools.lru_cache(maxsize=1)
def reference(family, label, dtype="float32"):
    return family().reference(label, dtype)


def check(family, label, backend, precision="strict", dtype="float32"):
    """`backend`'s output for the case, asserted equal to the float64 reference within the tolerance of
    the mode and dtype."""
    expected = reference(family, label, dtype)
    assert np.any(expected != 0), f"{family.__name__} / {label} ({dtype}): an all-zero reference passes a zero result"
    result, returned = family().compute(label, verified_backend(backend, precision), precision, dtype)
    assert result.shape == expected.shape, f"{backend} returned shape {result.shape}, reference {expected.shape}"
    if expected.dtype.kind == "f":  # an op that computed in another dtype and converted back is another op
        assert returned == dtype, f"{backend} returned {returned} for {dtype} inputs"
    else:
        assert result.dtype.kind in "iu", f"{backend} returned {result.dtype}: indices are integers"
    error = normwise_error(result, expected)
    tolerance = tolerance_of(family, precision, dtype, expected, backend)
    assert error <= tolerance, (f"{backend} ({precision}, {dtype}): error {error:.2e} against float64 "
                                f"exceeds {tolerance:.0e}")
    return result


def tolerance_of(family, precision, dtype, expected, backend):
    """The family's tolerance, or the bound LOOSER_ROUNDING lists for its op on `backend`; none for
    integer results (indices are right or wrong)."""
    if expected.dtype.kind in "iu":
        return 0.0
    looser = looser_rounding_on(family, backend, dtype)
    return looser.epsilons * EPSILON[dtype] if looser else family.tolerance_for(precision, dtype)


def looser_rounding_on(family, backend, dtype):
    if not backend.startswith("mlx") or dtype == "float32":
        return None
    import mlx.core as mx

    return looser_rounding(family.__name__, backend, mx.__version__, mlx_gpu_platform(), dtype)


def check_in_own_process(family, label, backend, precision, dtype="float32", saved=os.devnull):
    """`check` in a fresh interpreter: for a case that may kill its process, or an MLX precision
    other than the one this process started MLX with. Returns what the failing process printed (its
    last line says why), or None; the result is saved to `saved` (a .npy file)."""
    code = (f"from test_ops import check; from {family.__module__} import {family.__name__} as F; "
            f"import numpy; numpy.save({str(saved)!r}, check(F, {label!r}, {backend!r}, {precision!r}, {dtype!r}))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if run.returncode == 0:
        return None
    return run.stderr.strip() or f"exit code {run.returncode}"


def skip_unless_usable(backend):
    try:
        usable_backend(backend)
    except NotImplementedError as reason:  # left out of MLXBENCH_BACKENDS, or absent here
        pytest.skip(str(reason))


def last_line(printed):
    return printed.splitlines()[-1]


def expect_known_failure(failure, family, label, backend, precision, dtype):
    """Run a case known to fail upstream in a process of its own and insist that it fails, as known."""
    failed = check_in_own_process(family, label, backend, precision, dtype)
    if failed is None:
        pytest.fail(f"known upstream failure now passes ({failure.reason}): remove it from KNOWN_FAILURES")
    if failure.error not in failed:
        pytest.fail(f"known to fail with {failure.error!r} ({failure.reason}), "
                    f"it failed otherwise: {last_line(failed)}")
    pytest.xfail(f"known upstream failure: {failure.reason} (this run: {last_line(failed)})")


def skip_if_listed_as_lacking(message, family, backend, dtype):
    """A skip of the suite's (`message`): a dtype the framework lacks skips only if LACKING_DTYPES lists
    it; any other (a backend MLXBENCH_BACKENDS leaves out) skips."""
    if message.startswith(f"{backend} has no {dtype} {family.__name__} here") and not lacking_dtype(
            family.__name__, backend, dtype):
        pytest.fail(f"{message}: not in LACKING_DTYPES (benchmarks/known_failures.py); list it there if the "
                    "framework truly lacks it, with where it was seen")
    pytest.skip(message)


def expect_not_lacking(family, backend, dtype):
    listed = lacking_dtype(family.__name__, backend, dtype)
    if listed:
        pytest.fail(f"LACKING_DTYPES lists {family.__name__} in {dtype} on {backend} ({listed.reason}), and it runs: "
                    "remove the entry")


def checked_output(family, label, original, backend, precision, dtype):
    """`backend`'s output for the case, checked against float64 as `check` does (in a process of its own
    where need be); raises the skip, expected failure or failure that its test reports instead."""
    if backend not in selected_backends():  # before a known failure's own process, which would fail on it
        pytest.skip(f"{backend} is not in {BACKENDS_VARIABLE}={os.environ[BACKENDS_VARIABLE]}")
    reason = BACKENDS[backend].unavailable_reason()
    if reason:
        pytest.skip(reason)
    if precision == "tf32" and not BACKENDS[backend].has_tf32():
        pytest.skip(f"{backend} has no TF32 mode here: only strict runs")
    result = None
    if backend.startswith("mlx"):
        import mlx.core as mx

        row, platform = f"{family.__name__} / {original}", mlx_gpu_platform()
        failure = known_failure(row, backend, mx.__version__, platform, precision, dtype)
        if failure and label == original:
            expect_known_failure(failure, family, label, backend, precision, dtype)
        # A failure seen in float32 alone may still take the process down in another dtype.
        seen_in_float32 = dtype != "float32" and known_failure(row, backend, mx.__version__, platform, precision)
        if precision == "tf32" or seen_in_float32:  # tf32: this process started MLX in strict precision
            with tempfile.TemporaryDirectory() as folder:
                saved = os.path.join(folder, "result.npy")
                failed = check_in_own_process(family, label, backend, precision, dtype, saved)
                if failed and last_line(failed).startswith("NotImplementedError"):
                    skip_if_listed_as_lacking(last_line(failed).partition(": ")[2], family, backend, dtype)
                assert failed is None, last_line(failed)
                result = np.load(saved)
    if result is None:  # in this process
        try:
            result = check(family, label, backend, precision, dtype)
        except NotImplementedError as skipped:
            skip_if_listed_as_lacking(str(skipped), family, backend, dtype)
    expect_not_lacking(family, backend, dtype)
    return result


# pytest's skip, xfail and fail are BaseExceptions, not Exceptions.
CHECK_ENDINGS = (Exception, pytest.skip.Exception, pytest.fail.Exception)


# Each test computes the other backends' outputs it lacks, so that it compares with all of them
# whatever pytest ran before it; the cache makes each computed once per case when pytest runs a case's
# backends in a row, as it does by default. One case's worth: a case's outputs reach hundreds of MB.
@functools.lru_cache(maxsize=len(BACKEND_NAMES))
def outcome_of(family, label, original, backend, precision, dtype):
    """`checked_output`, or the exception that ended it."""
    try:
        return checked_output(family, label, original, backend, precision, dtype)
    except CHECK_ENDINGS as ended:
        return ended


def _tested(label, dtype):
    """(label checked, size in the test id) of a case in `dtype`."""
    case = Case.parse(label)
    tested = case.scaled_down(TEST_MAX_ELEMENTS if dtype == "float32" else HALF_TEST_MAX_ELEMENTS)
    return tested.label, "reference-shape" if tested == case else f"scaled-to-{tested.label}"


@pytest.mark.parametrize(
    "family, label, original, backend, precision, dtype",
    [
        pytest.param(family, tested, label, backend, precision, dtype,
                     id=f"{family.__name__} / {label} / {size} / {backend}"
                     + (f" / {precision}" if family.uses_matrix_units else "")
                     + ("" if dtype == "float32" else f" / {dtype}"))
        for family in op_families()
        for label in family.cases
        for dtype in family.dtypes
        for tested, size in [_tested(label, dtype)]
        for precision in (PRECISIONS if family.uses_matrix_units and dtype == "float32" else ("strict",))
        for backend in BACKEND_NAMES
    ],
)
def test_backend_matches_float64_reference_and_other_backends(family, label, original, backend, precision, dtype):
    result = outcome_of(family, label, original, backend, precision, dtype)
    if isinstance(result, BaseException):
        raise result
    # Within the family's tolerance of each other, not twice it: twice would follow from each being
    # within it of float64.
    expected = reference(family, label, dtype)
    for other in BACKEND_NAMES:
        other_result = outcome_of(family, label, original, other, precision, dtype)
        if other == backend or isinstance(other_result, BaseException):
            continue  # a backend without a checked output: its own test reports why
        tolerance = max(tolerance_of(family, precision, dtype, expected, name) for name in (backend, other))
        error = normwise_error(result, other_result)
        assert error <= tolerance, f"{backend} disagrees with {other}: {error:.2e} apart, beyond {tolerance:.0e}"


@pytest.mark.parametrize("entry", LOOSER_ROUNDING,
                         ids=lambda entry: f"{entry.family} / {entry.backend} / {entry.dtype}")
def test_a_looser_rounding_entry_is_still_needed_by_some_case(entry):
    family = next(family for family in op_families() if family.__name__ == entry.family)
    skip_unless_usable(entry.backend)
    if entry.dtype not in family.dtypes:
        pytest.skip(f"{entry.dtype} is not in MLXBENCH_DTYPES")
    import mlx.core as mx

    if mlx_gpu_platform() != entry.gpu or mx.__version__ not in entry.mlx_versions:
        pytest.skip(f"listed for MLX {', '.join(entry.mlx_versions)} on {entry.gpu} only")
    epsilons = {}
    for original in family.cases:
        label, _ = _tested(original, entry.dtype)
        result = outcome_of(family, label, original, entry.backend, "strict", entry.dtype)
        if isinstance(result, BaseException):
            raise result
        epsilons[label] = normwise_error(result, reference(family, label, entry.dtype)) / EPSILON[entry.dtype]
    worst = max(epsilons, key=epsilons.get)
    assert epsilons[worst] > family.epsilons, (
        f"{entry.family} on {entry.backend} in {entry.dtype} is within the family's {family.epsilons} epsilons "
        f"in every case now (worst {worst}: {epsilons[worst]:.1f}): remove its LOOSER_ROUNDING entry")


def test_a_looser_rounding_entry_widens_its_backend_dtype_platform_and_release_alone(monkeypatch):
    from benchmarks.bench_reductions import SumAll
    import mlx.core as mx

    entry = looser_rounding("SumAll", "mlx_gpu", "0.32.4", "cuda", "float16")
    own, listed = SumAll.epsilons * EPSILON["float16"], entry.epsilons * EPSILON["float16"]
    expected = np.ones(3)

    def tolerances(platform, version, dtype="float16"):
        monkeypatch.setattr(sys.modules[__name__], "mlx_gpu_platform", lambda: platform)
        monkeypatch.setattr(mx, "__version__", version)
        return [tolerance_of(SumAll, "strict", dtype, expected, backend)
                for backend in ("mlx_gpu", "mlx_gpu_compile", "cuda", "mlx_cpu")]

    assert entry.epsilons > SumAll.epsilons
    assert tolerances("cuda", "0.32.4") == [listed, listed, own, own]
    assert tolerances("metal", "0.32.4") == [own] * 4
    assert tolerances("cuda", "0.33.0") == [own] * 4
    assert tolerances("cuda", "0.32.4", "float32") == [SumAll.tolerance] * 4


@pytest.mark.parametrize("family", op_families(), ids=lambda family: family.__name__)
def test_every_mlx_form_compiles_to_the_same_function_once_per_case(family):
    """mlx_gpu_compile wraps each family's MLX form in `mx.compile`; checked here on MLX's CPU, so a
    form that cannot be compiled, or computes otherwise once compiled, fails without a GPU too."""
    reason = BACKENDS["mlx_cpu"].unavailable_reason()
    if reason:
        pytest.skip(reason)
    compiled_on_cpu = MLXCompiledBackend("mlx_cpu", "cpu")  # named so: it takes mlx_cpu's inputs
    for label in family.cases:
        tested = Case.parse(label).scaled_down(TEST_MAX_ELEMENTS).label
        bench = family()
        with compiled_on_cpu.session():
            op, args = bench.prepare(tested, compiled_on_cpu)
            result = bench.comparable(compiled_on_cpu.to_numpy(compiled_on_cpu.run(op, args)))
            assert bench.prepare(tested, compiled_on_cpu)[0] is op, "compiled again: the next sample would trace"
        error = normwise_error(result, family().reference(tested))
        assert error <= family.tolerance_for(), \
            f"{family.__name__} / {tested} compiled: error {error:.2e} against float64"


@pytest.mark.parametrize("family", op_families(), ids=lambda family: family.__name__)
def test_inputs_are_random_finite_float32_and_the_reference_is_not_trivial(family):
    for tested in {_tested(label, dtype)[0] for label in family.cases for dtype in family.dtypes}:
        inputs = host_inputs(family, tested)
        assert [a.shape for a in inputs] == list(Case.parse(tested).shapes)
        for a in inputs:
            if a.dtype == np.int32:  # indices: random over the indexed axis, not all alike
                assert a.min() >= 0 and np.unique(a).size > min(a.size, 16) // 2
                continue
            assert a.dtype == np.float32 and np.all(np.isfinite(a))
            assert a.size == 1 or np.unique(a).size > a.size // 2, "inputs should be random, not constant"
        expected = np.asarray(reference(family, tested))
        assert np.all(np.isfinite(expected)) and np.any(expected != 0)


def test_inputs_are_the_same_on_every_call():
    family = op_families()[0]
    tested, _ = _tested(family.cases[0], "float32")
    first = [a.copy() for a in host_inputs(family, tested)]
    host_inputs.cache_clear()
    assert all(np.array_equal(a, b) for a, b in zip(first, host_inputs(family, tested)))


def test_a_known_failure_passes_only_as_the_failure_it_is_known_as(monkeypatch):
    failure = KnownFailure("Sort / dim=64x128x1024 axi=0", "mlx_gpu", "cuda", ("0.32.4",), "mx.sort fails", "a test",
                           error="cudaGraphAddKernelNode")
    printed = {"as known": "Traceback (most recent call last):\nRuntimeError: cudaGraphAddKernelNode(...) failed",
               "otherwise": "Traceback (most recent call last):\nAssertionError: mlx_gpu (strict, float32): error 1e-1",
               "not": None}
    outcome = {}
    for name, text in printed.items():
        monkeypatch.setattr(sys.modules[__name__], "check_in_own_process", lambda *args, text=text: text)
        with pytest.raises((pytest.xfail.Exception, pytest.fail.Exception)) as ended:
            expect_known_failure(failure, None, "dim=64x128x1024 axi=0", "mlx_gpu", "strict", "float32")
        outcome[name] = (type(ended.value).__name__, str(ended.value).split(":")[0])
    otherwise = "known to fail with 'cudaGraphAddKernelNode' (mx.sort fails), it failed otherwise"
    assert outcome == {"as known": ("XFailed", "known upstream failure"),
                       "otherwise": ("Failed", otherwise),
                       "not": ("Failed", "known upstream failure now passes (mx.sort fails)")}


@pytest.mark.parametrize("backend", ["mlx_cpu", "mlx_gpu"])
def test_a_case_checked_in_a_process_of_its_own_hands_its_result_back_for_the_comparison(backend, tmp_path):
    from benchmarks.bench_activations import ReLU

    skip_unless_usable(backend)
    saved = tmp_path / "result.npy"
    assert check_in_own_process(ReLU, ReLU.cases[0], backend, "strict", "float32", saved) is None
    assert np.array_equal(np.load(saved), check(ReLU, ReLU.cases[0], backend))
