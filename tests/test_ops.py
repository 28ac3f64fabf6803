"""Every case computes the same function on every backend.

Each backend's output must equal the float64 NumPy reference within the family's float32
tolerance, and the backends must agree with each other, on the case's own seeded random inputs.
Cases whose inputs exceed TEST_MAX_ELEMENTS are checked at a scaled-down shape of the same rank
and axis; the test id says which ("reference-shape" or "scaled-to-...").
"""

import functools
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.common import (BACKEND_NAMES, BACKENDS, PRECISIONS, Case, MLXCompiledBackend, host_inputs, op_families,
                               verified_backend)
from benchmarks.known_failures import known_failure, mlx_gpu_platform
from conftest import ROOT

TEST_MAX_ELEMENTS = 2**24  # 64 MB of float32 inputs: the reference shapes that a 2-core CI box affords


def _checked_cases():
    for family in op_families():
        for label in family.cases:
            case = Case.parse(label)
            tested = case.scaled_down(TEST_MAX_ELEMENTS)
            size = "reference-shape" if tested == case else f"scaled-to-{tested.label}"
            yield family, label, tested.label, size


CHECKED = list(_checked_cases())


def normwise_error(result, expected):
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(np.max(np.abs(expected)), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(np.asarray(result, dtype=np.float64) - expected)) / scale)


@functools.lru_cache(maxsize=1)
def reference(family, label):
    return family().reference(label)


def check(family, label, backend, precision="strict"):
    """`backend`'s output for the case, asserted equal to the float64 reference within the mode's tolerance."""
    expected = reference(family, label)
    result = family().compute(label, verified_backend(backend, precision), precision)
    assert result.shape == expected.shape, f"{backend} returned shape {result.shape}, reference {expected.shape}"
    error = normwise_error(result, expected)
    tolerance = family.tolerance if precision == "strict" else family.tf32_tolerance
    assert error <= tolerance, f"{backend} ({precision}): error {error:.2e} against float64 exceeds {tolerance:.0e}"
    return result


def check_in_own_process(family, label, backend, precision):
    """`check` in a fresh interpreter: for a case that may kill its process, or an MLX precision
    other than the one this process started MLX with. Returns the failing line, or None."""
    code = (f"from test_ops import check; from {family.__module__} import {family.__name__} as F; "
            f"check(F, {label!r}, {backend!r}, {precision!r})")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if run.returncode == 0:
        return None
    return (run.stderr.strip().splitlines() or [f"exit code {run.returncode}"])[-1]


def expect_known_failure(failure, family, label, backend, precision):
    """Run a case known to fail upstream in a process of its own and insist that it fails."""
    failed = check_in_own_process(family, label, backend, precision)
    if failed is None:
        pytest.fail(f"known upstream failure now passes ({failure.reason}): remove it from KNOWN_FAILURES")
    pytest.xfail(f"known upstream failure: {failure.reason} (this run: {failed})")


# Outputs of the case checked last, so each backend is also compared with those before it
# (the parameters below run case by case, every backend of a case in a row).
_outputs = {}


@pytest.mark.parametrize(
    "family, label, original, backend, precision",
    [
        pytest.param(family, tested, label, backend, precision,
                     id=f"{family.__name__} / {label} / {size} / {backend}" + (f" / {precision}" if family.uses_matrix_units else ""))
        for family, label, tested, size in CHECKED
        for precision in (PRECISIONS if family.uses_matrix_units else ("strict",))
        for backend in BACKEND_NAMES
    ],
)
def test_backend_matches_float64_reference_and_other_backends(family, label, original, backend, precision):
    reason = BACKENDS[backend].unavailable_reason()
    if reason:
        pytest.skip(reason)
    if precision == "tf32" and not BACKENDS[backend].has_tf32():
        pytest.skip(f"{backend} has no TF32 mode here: only strict runs")
    if backend.startswith("mlx"):
        import mlx.core as mx

        failure = known_failure(f"{family.__name__} / {original}", backend, mx.__version__, mlx_gpu_platform(), precision)
        if failure and label == original:
            expect_known_failure(failure, family, label, backend, precision)
        if precision == "tf32":  # this process started MLX in strict precision
            failed = check_in_own_process(family, label, backend, precision)
            assert failed is None, failed
            return
    result = check(family, label, backend, precision)

    if _outputs.get("case") != (family, label, precision):
        _outputs.clear()
        _outputs["case"] = (family, label, precision)
    tolerance = family.tolerance if precision == "strict" else family.tf32_tolerance
    for other, other_result in _outputs.items():
        if other != "case":
            assert normwise_error(result, other_result) <= 2 * tolerance, f"{backend} disagrees with {other}"
    _outputs[backend] = result


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
        assert error <= family.tolerance, f"{family.__name__} / {tested} compiled: error {error:.2e} against float64"


@pytest.mark.parametrize("family", op_families(), ids=lambda family: family.__name__)
def test_inputs_are_random_finite_float32_and_the_reference_is_not_trivial(family):
    for label in family.cases:
        tested = Case.parse(label).scaled_down(TEST_MAX_ELEMENTS).label
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
    family, _, tested, _ = CHECKED[0]
    first = [a.copy() for a in host_inputs(family, tested)]
    host_inputs.cache_clear()
    assert all(np.array_equal(a, b) for a, b in zip(first, host_inputs(family, tested)))
