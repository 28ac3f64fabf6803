"""Fairness that is not a value: layout, no copies in the timed call, precision modes, memory reused
as steadily by torch on the CPU as by MLX, and a suite that touches no GPU at import."""

import ctypes
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks import backends
from benchmarks.bench_activations import Softmax
from benchmarks.bench_convolution import Conv1d, Conv2d
from benchmarks.bench_floor import Floor
from benchmarks.bench_linalg import Linear
from benchmarks.common import BACKENDS, Case, backend_inputs, host_inputs, op_families, usable_backend
from conftest import ROOT

SMALL = 2**18


def small(label):
    return Case.parse(label).scaled_down(SMALL).label


@pytest.mark.parametrize("family", [Conv1d, Conv2d], ids=lambda f: f.__name__)
def test_torch_convolution_gets_mlx_bytes_as_a_channels_last_view(family):
    label = small(family.cases[1])
    x, w = backend_inputs(family, label, "cpu")
    host_x, host_w = host_inputs(family, label)
    assert x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    assert w.is_contiguous(memory_format=torch.channels_last)
    # torch.from_numpy shares memory: the very bytes MLX is given, no channels-first copy.
    assert x.data_ptr() == host_x.ctypes.data and w.data_ptr() == host_w.ctypes.data


def test_torch_linear_keeps_its_weight_out_by_in():
    label = Linear.cases[0]
    x, w, b = backend_inputs(Linear, small(label), "cpu")
    _, host_w, _ = host_inputs(Linear, small(label))
    assert w.shape == host_w.shape[::-1] and w.is_contiguous()
    assert np.array_equal(w.numpy(), host_w.T)


@pytest.mark.parametrize("family", op_families(), ids=lambda f: f.__name__)
def test_no_layout_copy_inside_the_timed_torch_call(family):
    backend = BACKENDS["cpu"]
    for label in family.cases:
        with backend.session():
            op, args = family().prepare(small(label), backend)
            backend.run(op, args)
            with profile(activities=[ProfilerActivity.CPU]) as recorded:
                backend.run(op, args)
        copies = {event.name for event in recorded.events()} & {"aten::contiguous", "aten::clone"}
        assert not copies, f"{family.__name__} / {label}: the timed call copies its input ({copies})"


@pytest.mark.parametrize("backend_name", ["mlx_cpu", "cpu"])
@pytest.mark.parametrize("family", op_families(), ids=lambda f: f.__name__)
def test_the_timed_call_leaves_its_inputs_as_they_were(family, backend_name):
    # An op done in place (torch's `index_add_` for a scatter) would skip the copy of the table that
    # the other framework makes, and every sample would start from the previous one's result.
    backend = BACKENDS[backend_name]
    for label in family.cases:
        with backend.session():
            op, args = family().prepare(small(label), backend)
            before = [backend.to_numpy(a).copy() for a in args]
            backend.run(op, args)
            changed = [i for i, (a, b) in enumerate(zip(args, before)) if not np.array_equal(backend.to_numpy(a), b)]
        assert not changed, f"{family.__name__} / {label} on {backend_name}: the call changed its inputs {changed}"


def test_precision_modes_are_checked():
    with pytest.raises(ValueError, match="unknown precision mode 'fp16'; use one of strict, tf32"):
        usable_backend("cpu", "fp16")
    for name in ("cpu", "mlx_cpu"):
        with pytest.raises(NotImplementedError, match=f"{name} has no TF32 mode here"):
            usable_backend(name, "tf32")


@pytest.mark.parametrize("precision", ["strict", "tf32"])
def test_torch_on_cuda_multiplies_as_asked_and_autotunes_its_convolutions(precision):
    flags = (torch.backends.cudnn, "benchmark"), (torch.backends.cudnn, "allow_tf32"), \
        (torch.backends.cuda.matmul, "allow_tf32")
    before = [getattr(module, name) for module, name in flags]
    try:
        for (module, name), value in zip(flags, (False, precision != "tf32", precision != "tf32")):
            setattr(module, name, value)  # each flag the other way round first
        with BACKENDS["cuda"].session(precision):  # sets torch's flags: no GPU needed
            assert [getattr(module, name) for module, name in flags] == [True, precision == "tf32", precision == "tf32"]
            assert torch.is_inference_mode_enabled()
    finally:
        for (module, name), value in zip(flags, before):
            setattr(module, name, value)


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_mlx_cannot_switch_precision_inside_a_process():
    run = run_python(
        "from benchmarks.common import usable_backend\n"
        "usable_backend('mlx_cpu', 'strict')\n"
        "import os; assert os.environ['MLX_ENABLE_TF32'] == '0'\n"
        "try:\n    usable_backend('mlx_gpu', 'tf32')\n"
        "except RuntimeError as e:\n    print(e)\n"
    )
    assert "MLX started this process in strict precision and cannot switch to tf32" in run.stdout, run.stderr


class _StandInGPU:
    framework, device = "torch", "cuda"

    def unavailable_reason(self):
        return None

    def has_tf32(self):
        return True


def test_only_a_family_that_multiplies_matrices_checks_its_backends_multiply(monkeypatch):
    # The check's matmul would start cuBLAS in every GPU process, for ops that never multiply. What
    # `setup` hands `verified_backend` is the family's `modes` (setup's own text is part of asv's
    # version of every result: it stays as it was).
    measured = []
    monkeypatch.setitem(backends.BACKENDS, "cuda", _StandInGPU())
    monkeypatch.setattr(backends, "measured_precision", lambda name, mode: measured.append(mode) or mode)
    for family, modes in ((Floor, ()), (Softmax, ("float32",)), (Linear, ("strict",)), (Linear, ("tf32",))):
        precision, _ = family.modes(*modes)
        assert precision == (modes[0] if family.uses_matrix_units else "strict")
        backends.verified_backend("cuda", precision)
        assert measured == ([precision] if family.uses_matrix_units else []), family.__name__
        measured.clear()


@pytest.mark.parametrize("backend", ["mlx_gpu", "cuda"])
@pytest.mark.parametrize("precision", ["strict", "tf32"])
def test_a_cuda_backend_multiplies_at_the_precision_its_mode_says(backend, precision):
    if BACKENDS[backend].unavailable_reason() or not BACKENDS[backend].has_tf32():
        pytest.skip(f"{backend} has no TF32 mode on this machine")
    run = run_python(
        "from benchmarks.common import verified_backend, measured_precision\n"
        f"verified_backend({backend!r}, {precision!r})\n"
        f"print('measured', measured_precision({backend!r}, {precision!r}))\n"
    )
    assert run.returncode == 0 and f"measured {precision}" in run.stdout, run.stderr


@pytest.mark.parametrize("backend", ["mlx_gpu", "mps"])
def test_an_apple_gpu_multiplies_float32_in_float32(backend):
    # MLX on Apple GPUs with neural accelerators multiplies float32 in reduced precision by default.
    if BACKENDS[backend].unavailable_reason() or BACKENDS[backend].has_tf32():
        pytest.skip(f"{backend} is no Apple GPU on this machine")
    run = run_python("from benchmarks.common import verified_backend, measured_precision\n"
                     f"verified_backend({backend!r})\nprint('measured', measured_precision({backend!r}, 'strict'))\n")
    assert run.returncode == 0 and "measured strict" in run.stdout, run.stderr


def test_mps_refuses_to_run_with_the_cpu_fallback_on(monkeypatch):
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")  # ops MPS lacks would run, and be timed, on the CPU
    assert BACKENDS["mps"].unavailable_reason().startswith("PYTORCH_ENABLE_MPS_FALLBACK=1 would run the ops MPS")


def test_importing_the_suite_touches_no_gpu():
    # asv's forkserver forks every case from the process that imported the suite: a GPU context
    # made there would be inherited broken. torch may be imported (it starts CUDA at first use).
    run = run_python(
        "import sys\nfrom benchmarks.common import op_families\nop_families()\n"
        "import torch\n"
        "print('mlx imported:', 'mlx.core' in sys.modules, '| cuda started:', torch.cuda.is_initialized())"
    )
    assert run.returncode == 0 and run.stdout.strip() == "mlx imported: False | cuda started: False", (
        run.stdout + run.stderr)


@pytest.mark.parametrize("command, imports_torch", [("run_server", True), ("discover", False)])
def test_asvs_forkserver_imports_torch_with_the_suite_and_its_discovery_does_not(command, imports_torch):
    # Its forked cases then find torch imported; the discovery, which runs nothing, saves the seconds.
    run = run_python(f"import sys\nsys.argv[1:] = [{command!r}, 'benchmarks']\n"
                     "from benchmarks.common import op_families\nop_families()\nprint('torch' in sys.modules)")
    assert run.returncode == 0 and run.stdout.strip() == str(imports_torch), run.stdout + run.stderr


# One process of a case on torch's cpu: the page faults of its median call of 50 after the suite's
# warm-up. Before the suite set MALLOPT, RMSNorm's 1.9 MB of temporaries were handed back to the
# kernel after every call in 4 of 6 processes, and PReLU's 8 MB output was mapped afresh until glibc's
# threshold rose past it. The median, not the mean: a heap still finding its size faults in a new
# megabyte now and then (RMSNorm: 256 pages at calls 2, 9 and 56 of 100 in one process of eight, on
# this project's box), which is not memory going back.
PAGE_FAULTS_A_CALL = """
import resource, statistics, sys
from benchmarks.common import op_families
family = next(f for f in op_families() if f.__name__ == sys.argv[1])
bench, params = family(), (sys.argv[2], "cpu")
bench.setup(*params)
faults = []
for _ in range(50):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    bench.time_latency(*params)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(statistics.median(faults))
"""


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallopt"), reason="the C library has no mallopt (glibc only)")
@pytest.mark.parametrize("family, label", [("RMSNorm", "dim=1x32x8192 dim=8192"), ("PReLU", "dim=128x16x1024 dim=1")])
def test_torch_on_the_cpu_reuses_a_calls_freed_memory_in_every_process(family, label):
    from benchmarks.backends import keep_freed_memory

    assert keep_freed_memory()
    for _ in range(4):  # each a new process: where its small allocations land differs
        run = subprocess.run([sys.executable, "-c", PAGE_FAULTS_A_CALL, family, label], cwd=ROOT,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert float(run.stdout) < 1, f"{family} {label}: {run.stdout.strip()} page faults in the median call: " \
                                      "memory went back"
