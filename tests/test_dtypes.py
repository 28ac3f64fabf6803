"""The dtype dimension: which combinations asv runs, the inputs each dtype gets, and a dtype a framework
lacks on a backend skipping with its reason while a failure stays a failure."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import common
from benchmarks.bench_activations import ReLU
from benchmarks.bench_linalg import MatMul
from benchmarks.common import BACKENDS, DTYPE_PROBE_ELEMENTS, F, OpBenchmark, host_inputs, rounded_to, torch
from conftest import ROOT

LABEL = ReLU.cases[0]


def test_unknown_dtype_is_one_line_naming_the_fix():
    with pytest.raises(ValueError, match=r"MLXBENCH_DTYPES='float32,fp8' names unknown dtype fp8; use a "
                                         r"comma-separated subset of float32,float16,bfloat16$"):
        common.selected_dtypes("float32,fp8")
    assert common.selected_dtypes("") == ("float32",)
    assert common.selected_dtypes(" bfloat16 , float32 ") == ("bfloat16", "float32")
    env = dict(os.environ, MLXBENCH_DTYPES="fp8", MLXBENCH_BACKENDS="cpu")
    run = subprocess.run([sys.executable, "-m", "tools.bench", "--quick"], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 1 and run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert "MLXBENCH_DTYPES='fp8' names unknown dtype fp8" in run.stderr


def skipped(family, method, dtypes):
    """The parameter combinations of `family`'s `method` that asv skips with MLXBENCH_DTYPES=`dtypes`:
    the skip list of the family made anew under it (a family makes its parameters and skips as a class)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLXBENCH_DTYPES", dtypes)
        fresh = type(family.__name__, (family,), {})
    return set(getattr(fresh, f"time_{method}").skip_params)


@pytest.fixture
def no_dtype_selection(monkeypatch):
    monkeypatch.delenv("MLXBENCH_DTYPES", raising=False)


def test_float32_alone_runs_unless_more_are_asked_for(no_dtype_selection):
    combos = {(case, backend, dtype) for case in ReLU.cases for backend in common.BACKEND_NAMES
              for dtype in common.DTYPES}
    assert skipped(ReLU, "latency", "") == {combo for combo in combos if combo[2] != "float32"}
    assert skipped(ReLU, "latency", "float32,bfloat16") == {combo for combo in combos if combo[2] == "float16"}
    assert skipped(ReLU, "latency", "float16") == {combo for combo in combos if combo[2] != "float16"}
    throughput = skipped(ReLU, "throughput", "float32,float16,bfloat16")
    assert throughput == {combo for combo in combos if combo[1] not in common.GPU_BACKENDS}
    assert set(ReLU.time_latency.skip_params) == skipped(ReLU, "latency", ""), "the class's own list: unset"


def test_tf32_is_never_run_in_another_dtype(no_dtype_selection):
    every = skipped(MatMul, "latency", "float32,float16,bfloat16")
    assert {combo[2:] for combo in every} == {("tf32", "float16"), ("tf32", "bfloat16")}
    assert len(every) == len(MatMul.cases) * len(common.BACKEND_NAMES) * 2


def test_a_family_without_the_dtype_parameter_runs_whatever_is_selected(no_dtype_selection):
    floor = next(family for family in common.op_families() if family.__name__ == "Floor")
    assert floor.param_names == ["case", "backend"]
    assert skipped(floor, "latency", "bfloat16") == set()


@pytest.mark.parametrize("backend", ["mlx_cpu", "cpu"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_backends_convert_floating_inputs_as_the_reference_rounds_them_and_leave_indices(backend, dtype):
    one = np.float32(1)
    ties = np.array([1 + 2.0**-8, 1 + 3 * 2.0**-8, -(1 + 2.0**-8), 2.0**-11 * 3, 65519, 1e-8], np.float32)
    values = np.concatenate([ties, np.random.default_rng(0).standard_normal(10_000, dtype=np.float32) * 100])
    chosen = BACKENDS[backend]
    converted = chosen.to_numpy(chosen.array(values, dtype))
    assert np.array_equal(converted.astype(np.float64), rounded_to(values, dtype))
    assert not np.array_equal(rounded_to(values, dtype), values.astype(np.float64)), "rounding changed nothing"
    assert rounded_to(np.array([1 + 2.0**-8], np.float32), "bfloat16")[0] == one, "a tie goes to the even neighbour"

    gather = next(family for family in common.op_families() if family.__name__ == "Gather")
    small = "dim=1000x64 dim=100 axi=0"
    table, index = common.backend_inputs(gather, small, backend, dtype)
    assert np.array_equal(chosen.to_numpy(index), host_inputs(gather, small)[1]), "indices are not converted"
    assert str(table.dtype).endswith(dtype)


def relu_that(fails, error=RuntimeError, message="\"relu_cpu\" not implemented for 'Half'"):
    """torch's ReLU, raising where `fails(x)` says (a kernel the framework lacks, or one that breaks)."""
    def op(x):
        if fails(x):
            raise error(message)
        return F.relu(x)
    return op


def test_a_dtype_the_framework_lacks_skips_with_its_reason_and_the_others_run():
    bench = ReLU()
    bench.torch = relu_that(lambda x: x.dtype == torch.float16)
    with pytest.raises(NotImplementedError, match=r"^cpu has no float16 ReLU here \(RuntimeError: \"relu_cpu\" "
                                                  r"not implemented for 'Half'\)$"):
        bench.setup(LABEL, "cpu", "float16")
    bench.teardown(LABEL, "cpu", "float16")
    with pytest.raises(NotImplementedError, match="cpu has no float16 ReLU here"):  # the tests' path
        bench.compute(LABEL, BACKENDS["cpu"], "strict", "float16")
    result, returned = bench.compute(LABEL, BACKENDS["cpu"], "strict", "bfloat16")  # the other dtypes run
    assert returned == "bfloat16" and np.array_equal(result, bench.reference(LABEL, "bfloat16"))


@pytest.mark.parametrize("fails", [
    lambda x: x.dtype == torch.float16 and x.numel() > DTYPE_PROBE_ELEMENTS,  # only at the case's size
    lambda x: True,  # in float32 as well
], ids=["full-size-only", "every-dtype"])
def test_a_failure_in_a_dtype_stays_a_failure(fails):
    bench = ReLU()
    bench.torch = relu_that(fails)
    with pytest.raises(RuntimeError, match="not implemented for 'Half'"):
        bench.setup(LABEL, "cpu", "float16")
    bench.teardown(LABEL, "cpu", "float16")


MPS_LACKS = "The operator 'aten::relu' is not currently implemented for the MPS device."


def test_an_op_that_raises_not_implemented_fails_and_is_not_skipped():
    """torch says NotImplementedError for an op it lacks on a device, and asv and the tests read that
    exception as a skip: the harness makes it the case's failure on that backend."""
    from test_ops import checked_output

    bench = ReLU()
    bench.torch = relu_that(lambda x: True, NotImplementedError, MPS_LACKS)
    failure = rf"^cpu cannot run ReLU / {LABEL} \(NotImplementedError: {re.escape(MPS_LACKS)}\)$"
    for dtype in ("float32", "float16"):  # float16: float32 fails as well, so nothing is lacking in float16
        with pytest.raises(RuntimeError, match=failure):
            bench.setup(LABEL, "cpu", dtype)
        bench.teardown(LABEL, "cpu", dtype)
        with pytest.raises(RuntimeError, match=failure):
            bench.compute(LABEL, BACKENDS["cpu"], "strict", dtype)

    class Lacking(ReLU):  # the tests' path, which makes its own instance of the family
        torch = staticmethod(relu_that(lambda x: True, NotImplementedError, MPS_LACKS))

    with pytest.raises(RuntimeError, match=failure.replace("ReLU", "Lacking")):
        checked_output(Lacking, LABEL, LABEL, "cpu", "strict", "float32")


def test_a_dtype_lacked_with_not_implemented_still_skips():
    bench = ReLU()
    bench.torch = relu_that(lambda x: x.dtype == torch.float16, NotImplementedError, MPS_LACKS)
    with pytest.raises(NotImplementedError, match=r"^cpu has no float16 ReLU here \(NotImplementedError: "):
        bench.setup(LABEL, "cpu", "float16")
    bench.teardown(LABEL, "cpu", "float16")


def test_the_tests_skip_a_lacking_dtype_only_where_it_is_listed(monkeypatch):
    from benchmarks import known_failures
    from test_ops import expect_not_lacking, skip_if_listed_as_lacking

    lacking = "cpu has no float16 ReLU here (RuntimeError: \"relu_cpu\" not implemented for 'Half')"
    with pytest.raises(pytest.fail.Exception, match="not in LACKING_DTYPES"):
        skip_if_listed_as_lacking(lacking, ReLU, "cpu", "float16")
    with pytest.raises(pytest.skip.Exception):  # a backend left out is no gap of a framework
        skip_if_listed_as_lacking("mlx_cpu is not in MLXBENCH_BACKENDS=cpu", ReLU, "mlx_cpu", "float16")
    listed = known_failures.LackingDtype("ReLU", "cpu", "float16", "torch has no half ReLU", "a test")
    monkeypatch.setattr(known_failures, "LACKING_DTYPES", (listed,))
    with pytest.raises(pytest.skip.Exception):
        skip_if_listed_as_lacking(lacking, ReLU, "cpu", "float16")
    with pytest.raises(pytest.fail.Exception, match="and it runs: remove the entry"):
        expect_not_lacking(ReLU, "cpu", "float16")
