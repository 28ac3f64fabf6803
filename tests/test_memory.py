"""Peak memory per call (`track_peak_memory`): MLX's counters, torch's CUDA allocator and process RSS
give the bytes a call must hold, at least its result, on the backends this machine has (and
MLXBENCH_BACKENDS selects); the others skip with a reason."""

import os
import sys

import numpy as np
import pytest

from benchmarks import backends
from benchmarks.bench_activations import ReLU
from benchmarks.bench_reductions import Sort
from benchmarks.common import BACKENDS, Case, OpBenchmark, usable_backend
from tests_support import HEAP_EDGES

LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process RSS peaks can be reset on Linux only")


# Backends whose peak counts only what the call allocates (allocator counters, not RSS): any of them
# that this machine has must measure ReLU's result and nothing it could not hold.
COUNTED = ["mlx_cpu", pytest.param("cpu", marks=LINUX_ONLY), "mlx_gpu", "mlx_gpu_compile", "cuda"]


def peak_memory(family, label, backend):
    bench = family()
    try:
        bench.setup(label, backend)
    except NotImplementedError as reason:  # asv's skip: a backend left out or absent
        pytest.skip(str(reason))
    try:
        OpBenchmark.track_peak_memory.setup(label, backend)  # asv runs it after the class's setup
        return [bench.track_peak_memory(label, backend) for _ in range(2)], 4 * bench.output_elements(Case.parse(label))
    finally:
        bench.teardown()


@pytest.mark.parametrize("backend", COUNTED)
def test_memory_of_relu_on_64_mb_is_its_result_and_no_more_than_a_copy_besides(backend):
    peaks, result_bytes = peak_memory(ReLU, "dim=16x1024x1024", backend)
    assert result_bytes == 64 << 20
    for peak in peaks:  # the second call as the first: the number is the steady state's
        assert result_bytes <= peak <= 2 * result_bytes, f"{backend}: {peak / 1e6:.1f} MB"


# How far Linux's peak RSS may lag for memory freed inside a call: its per-CPU counters (backends.rss_peak).
RSS_LAG = 3 * os.cpu_count() * max(32, 2 * os.cpu_count()) * 4096


@pytest.mark.parametrize("backend", ["mlx_cpu", pytest.param("cpu", marks=LINUX_ONLY)])
def test_memory_counts_what_the_call_holds_besides_its_result(backend):
    peaks, values_bytes = peak_memory(Sort, "dim=16x128x1024 axi=1", backend)
    # torch.sort always makes int64 indices beside the values (README, "Fair comparison"), freed
    # inside the call: 3x the values at the peak.
    least = 3 * values_bytes - RSS_LAG if backend == "cpu" else values_bytes
    assert all(least <= peak <= least + values_bytes for peak in peaks), (backend, peaks)


@pytest.mark.parametrize("backend", COUNTED)
def test_a_call_that_allocates_nothing_holds_nothing_more(backend):
    try:
        backend = usable_backend(backend)
    except NotImplementedError as reason:
        pytest.skip(str(reason))
    with backend.session():
        x = backend.array(np.ones((1024, 1024), np.float32))
        backend.peak_memory(lambda a: a * 2, (x,))  # a peak before, which must not carry over
        assert 0 <= backend.peak_memory(lambda a: a.reshape(-1), (x,)) < 1 << 20  # a view: no new buffer


@LINUX_ONLY
def test_rss_peak_restarts_at_each_call_and_sees_reused_and_freed_buffers():
    assert backends.rss_peak_unavailable_reason() is None
    size = 32 << 20
    np.ones(2 * size, np.uint8)  # a higher peak before: the reset must forget it
    assert backends.rss_peak(lambda: None) < 1 << 20
    # After a large buffer is freed, glibc keeps buffers of up to that size in its heap, resident, and
    # hands the same one out again: each call must count it anyway.
    np.ones(8 << 20, np.uint8)
    for _ in range(3):
        assert backends.rss_peak(lambda: np.ones(1 << 20, np.float32)) >= (4 << 20) - HEAP_EDGES
    assert backends.rss_peak(lambda: float(np.ones(size // 4, np.float32).sum())) >= size - RSS_LAG, "freed inside"


def test_a_machine_whose_peak_rss_cannot_be_reset_skips_cpu_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(backends, "CLEAR_REFS", str(tmp_path / "absent" / "clear_refs"))  # as on macOS
    reason = backends.rss_peak_unavailable_reason.__wrapped__()
    assert reason.startswith("the process's peak RSS cannot be reset here") and "every earlier peak" in reason


def test_mps_has_no_peak_counter_and_its_memory_is_skipped_with_the_reason():
    with pytest.raises(NotImplementedError, match=r"^mps: torch's MPS allocator keeps no peak counter"):
        OpBenchmark.track_peak_memory.setup("dim=1", "mps")
    OpBenchmark.track_peak_memory.setup("dim=1", "mlx_cpu")  # measurable here: no skip
    assert OpBenchmark.track_peak_memory.unit == "bytes"
    assert BACKENDS["mlx_cpu"].memory_unavailable_reason() is None
