"""The tools that check the timing itself: the fidelity report (asv against device events), the
comparison of two runs (asv's compare table) and the per-case profiler's bad input."""

import argparse
import inspect
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import time

import pytest
from asv.config import Config

from benchmarks.bench_activations import ReLU
from benchmarks.bench_linalg import MatMul
from benchmarks import common
from benchmarks.common import BACKENDS, GPU_BACKENDS
from conftest import ROOT
import tests_support
from tests_support import (NVIDIA_INTERRUPTS, cells_of, gpu_run, interrupts_all_on, project_copy,
                           stand_in_interrupts, stand_in_wakeup_request, write_fake_results)
from tools import cpu_wakeup, cuda_events, fidelity, gpu_interrupts, options, process_cost, processes, stability
from tools.forked import forked

NO_GPU = all(BACKENDS[name].unavailable_reason() for name in GPU_BACKENDS)


def record(case, backend, events_ms, family="MatMul", precision="strict"):
    return {"family": family, "case": case, "backend": backend, "precision": precision, "events_ms": events_ms,
            "host_ms": events_ms * 1.01, "calls": 100, "first_ms": events_ms * 1.2}


class HostClockEvent:
    """Stands in for a device event where there is no GPU: the host's clock at `record`."""

    def record(self, stream=None):
        self.at = time.perf_counter()

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return (end.at - self.at) * 1e3


class SlowFirstCall:
    """A backend whose first call takes `first_s` and every later one about 1 ms; it keeps their start times."""

    def __init__(self, name, first_s):
        self.name, self.first_s, self.starts = name, first_s, []

    def run(self, op, args):
        self.starts.append(time.perf_counter())
        time.sleep(self.first_s if len(self.starts) == 1 else 0.001)


def test_warm_up_on_a_gpu_backend_starts_after_the_first_call_and_a_slow_cpu_case_gets_one_call():
    gpu = SlowFirstCall("cuda", first_s=0.3)
    common.warm_up(("test", "gpu", time.perf_counter()), gpu, None, ())
    first_done = gpu.starts[0] + gpu.first_s
    assert len(gpu.starts) > 10 and gpu.starts[-1] - first_done >= common.WARM_UP_SECONDS * 0.9, \
        "steady calls for WARM_UP_SECONDS after the compiling first call"
    assert gpu.starts[-1] - first_done < common.WARM_UP_SECONDS + 3 * common.STEADY_SLICE_SECONDS, \
        "an op steady from the start is warmed up for WARM_UP_SECONDS, not to the limit"
    cpu = SlowFirstCall("mlx_cpu", first_s=0.3)
    common.warm_up(("test", "cpu", time.perf_counter()), cpu, None, ())
    assert len(cpu.starts) == 1, "a CPU case whose first call outlasts the warm-up is slow: no second call"
    fast = SlowFirstCall("cpu", first_s=0.001)
    key = ("test", "fast", time.perf_counter())
    common.warm_up(key, fast, None, ())
    warmed = len(fast.starts)
    common.warm_up(key, fast, None, ())
    assert warmed > 10 and len(fast.starts) == warmed, "warmed once per process: asv's setup reruns it per sample"


class SpeedingUp:
    """A GPU backend whose call takes `seconds_at(t)`, t seconds after its first call."""

    name = "mlx_gpu"

    def __init__(self, seconds_at):
        self.seconds_at, self.starts = seconds_at, []

    def run(self, op, args):
        now = time.perf_counter()
        self.starts.append(now)
        time.sleep(self.seconds_at(now - self.starts[0]))


def test_a_gpu_warm_up_goes_on_while_the_op_still_speeds_up_and_stops_at_its_limit():
    steady_at_04 = SpeedingUp(lambda t: 0.003 - 0.002 * min(1.0, t / 0.4))
    common.warm_up(("test", "speeding up", time.perf_counter()), steady_at_04, None, ())
    warmed_s = steady_at_04.starts[-1] - steady_at_04.starts[0]
    # Steady calls here are sleeps of 1 ms; on a loaded box their overshoot moves a slice's median by
    # more than the 1 % the warm-up looks for, now and then a slice longer (0.553 s once in a fresh
    # clone's make test, 2026-12-06). Five slices still tell it from the 1 s limit below.
    assert 0.35 <= warmed_s < 0.4 + 5 * common.STEADY_SLICE_SECONDS, \
        f"warmed up for {warmed_s:.3f} s: should end soon after the op is steady at 0.4 s"
    ten_percent_a_slice = SpeedingUp(lambda t: 0.003 * math.exp(-2 * t))
    common.warm_up(("test", "never steady", time.perf_counter()), ten_percent_a_slice, None, ())
    warmed_s = ten_percent_a_slice.starts[-1] - ten_percent_a_slice.starts[0]
    assert common.STEADY_LIMIT_SECONDS * 0.95 <= warmed_s < common.STEADY_LIMIT_SECONDS + 0.05


def test_still_speeding_up_compares_the_last_slices_median_with_the_one_before():
    assert common.still_speeding_up([[1.0]])
    assert common.still_speeding_up([[1.0, 1.1, 5.0], [0.9, 0.95, 0.1]])
    assert not common.still_speeding_up([[1.0, 1.0, 1.0], [0.995, 5.0, 0.995]])
    assert not common.still_speeding_up([[1.0], [1.2]]), "slower is not speeding up"


@pytest.mark.parametrize("family, params", [(ReLU, ("dim=128x16x1024", "cpu")),
                                            (MatMul, ("dim=1000x64x256 dim=256x32", "cpu", "strict"))])
def test_fidelity_times_the_benchmarks_own_method_as_asv_calls_it(family, params, monkeypatch):
    monkeypatch.setattr(fidelity, "WARMUP_S", 0.05)
    monkeypatch.setattr(fidelity, "BUDGET_S", 0.05)
    calls = []
    bench = family()
    monkeypatch.setattr(bench, "teardown", lambda *p: calls.append(p) or family.teardown(bench, *p))
    events, host, first = fidelity.time_with_events(bench, params, (HostClockEvent(), HostClockEvent(), None))
    assert len(events) == len(host) >= fidelity.MIN_CALLS and len(calls) > len(events), \
        "a setup and teardown around every call, warm-up too"
    assert calls[0] == params and 0 < min(events) and max(events) <= max(host) * 1.5
    assert len(first) == min(fidelity.ASV_SAMPLES, len(calls) - 1) and min(first) > 0, "the calls of asv's window"


def test_fidelity_pools_the_calls_of_as_many_processes_as_asv_ran():
    def case(name, events, first=(1.0,)):
        return {"family": "MatMul", "case": name, "backend": "cuda", "precision": "strict", "events": list(events),
                "host": list(events), "first": list(first)}

    lost = {"family": "MatMul", "case": "d", "backend": "cuda", "precision": "strict", "error": "RuntimeError: lost"}
    passes = [[case("c", [1.0, 1.1], [2.0]), case("d", [1.0])],
              [case("c", [1.5], [2.0]), lost],
              [case("c", [1.6, 1.7], [3.0]), case("d", [1.0])]]
    assert fidelity.PROCESSES == common.OpBenchmark.gpu_rounds
    pooled = {r["case"]: r for r in fidelity.pooled(passes)}
    assert pooled["c"]["events_ms"] == 1.5 and pooled["c"]["calls"] == 5 and pooled["c"]["first_ms"] == 2.0
    assert pooled["c"]["levels_ms"] == pytest.approx((1.05, 1.65)), "the lowest and highest process's own median"
    assert pooled["c"]["processes"] == 3
    assert pooled["d"]["error"] == "RuntimeError: lost" and "events_ms" not in pooled["d"], "failed in one: failed"


def test_each_fidelity_pass_forks_from_a_new_interpreter_as_each_asv_run_does(monkeypatch):
    monkeypatch.setattr(tests_support, "MARKER", ["set in the test's process"])
    assert forked(tests_support.send_marker) == ([["set in the test's process"]], 0)
    assert forked(tests_support.send_marker, fresh=True) == ([[]], 0)


def test_fidelity_measures_the_cases_it_judges_and_the_floor_unless_asked_for_all():
    figures = {("MatMul", "big", "cuda", "strict"): 0.2, ("MatMul", "small", "cuda", "strict"): 0.19,
               ("Floor", "dim=1", "cuda", "strict"): 0.03}
    wanted = fidelity.Wanted(figures)
    assert [key[1] for key in figures if wanted(key)] == ["big", "dim=1"]
    assert not wanted(("Sort", "failed on asv", "mlx_gpu", "strict")), "no figure of asv's: nothing to compare"
    assert all(map(fidelity.Wanted(None), [*figures, ("Sort", "failed on asv", "mlx_gpu", "strict")]))


def test_fidelity_runs_each_case_in_a_process_of_its_own_as_asv_does(monkeypatch):
    # A case's time depends on what its process ran before, so no case shares a process with another.
    forks = []

    def fake_forked(target, *args):
        forks.append((target, args))
        died = args[1] == "dim=64x128x1024"  # the second case's process dies before it sends anything
        return ([] if died else [{"family": args[0], "case": args[1], "backend": args[2], "precision": args[3]}],
                -11 if died else 0)

    monkeypatch.setattr(fidelity, "forked", fake_forked)
    monkeypatch.setattr(fidelity, "GPU_BACKENDS", ("cpu",))
    monkeypatch.setattr(fidelity, "selected_backends", lambda: ("cpu",))
    sent = []
    fidelity.measure_once(1, lambda key: key[0] == "ReLU", "driver", sent.append)
    assert forks == [(fidelity.measure_case, ("ReLU", label, "cpu", "strict", "driver")) for label in ReLU.cases], \
        "each case's process is told whose events to record"
    assert [record.get("error") for record in sent] == [None, "process died (exit -11)"] and len(ReLU.cases) == 2


def test_fidelity_runs_its_passes_from_new_interpreters_end_to_end(tmp_path):
    # In a copy of the project where cpu counts as a GPU backend and the host's clock stands in for
    # device events: the whole run, its passes, their processes and the report.
    project = project_copy(tmp_path, {"bench_floor.py": None}, cpu_as_gpu=True)
    with open(project / "tools" / "fidelity.py", "a") as tool:
        tool.write("\n\n" + inspect.getsource(HostClockEvent)
                   + "\n\ndef events_for(backend, instrument):\n    return HostClockEvent(), HostClockEvent(), None\n")
    write_fake_results(project / "results", "box")
    request = stand_in_wakeup_request(project, tmp_path)
    run = subprocess.run([sys.executable, "-m", "tools.fidelity", "--machine", "box", "--cpu-latency-us", "3",
                          "--events", "driver"],
                         cwd=project, env=dict(os.environ, MLXBENCH_BACKENDS="cpu"), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    assert struct.unpack("i", request.read_bytes()) == (3,) and "held to a wake-up latency of 3 us" in run.stdout
    progress = [re.sub(r"in \d+ s$", "in N s", line)
                for line in run.stderr.splitlines() if line.startswith("fidelity:")]
    assert progress == [f"fidelity: pass {n} of {fidelity.PROCESSES}: Floor on cpu (strict), 1 measured in N s"
                        for n in range(1, fidelity.PROCESSES + 1)]
    assert "cases asv put under 0.2 ms are not measured (--all)" in run.stdout
    assert "over device events (the CUDA driver's)" in run.stdout, "the report names its instrument"
    assert re.search(r"floor \(synchronised one-element op, by events\): cpu 0\.\d{3} ms", run.stdout)


def test_a_stopped_fidelity_run_reports_the_passes_it_finished(tmp_path):
    # The second pass stops the run as a time limit would (SIGTERM to the tool); the report pools the first.
    project = project_copy(tmp_path, {"bench_floor.py": None}, cpu_as_gpu=True)
    with open(project / "tools" / "fidelity.py", "a") as tool:
        tool.write("\n\n" + inspect.getsource(HostClockEvent) + textwrap.dedent("""

            def events_for(backend, instrument):
                return HostClockEvent(), HostClockEvent(), None

            _measure_once = measure_once

            def measure_once(number, wanted, instrument, send):
                if number == 2:
                    import os, signal
                    os.kill(os.getppid(), signal.SIGTERM)
                    time.sleep(60)
                _measure_once(number, wanted, instrument, send)
            """))
    write_fake_results(project / "results", "box")
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "tools.fidelity", "--machine", "box", "--output", "report.md"],
                         cwd=project, env=dict(os.environ, MLXBENCH_BACKENDS="cpu"), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert time.perf_counter() - started < 50, "the stopped pass's process is ended, not waited for"
    assert f"fidelity: stopped (SIGTERM) in pass 2 of {fidelity.PROCESSES}; the report pools the 1 done" in run.stderr
    report = (project / "report.md").read_text()
    assert f"; stopped after 1 of {fidelity.PROCESSES} passes" in report and re.search(r"Floor / dim=1 +\| cpu", report)


def test_a_fidelity_run_stopped_before_its_first_pass_ended_says_so_and_writes_nothing(monkeypatch, tmp_path, capsys):
    def stopped_at_once(*args, **kwargs):
        raise fidelity.Stopped

    monkeypatch.setattr(fidelity, "forked", stopped_at_once)
    monkeypatch.setattr(fidelity, "GPU_BACKENDS", ("cpu",))
    write_fake_results(tmp_path / "results", "box")
    output = tmp_path / "report.md"
    assert fidelity.main(["--results", str(tmp_path / "results"), "--machine", "box", "--output", str(output)]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "error: stopped before its first pass ended: nothing measured to report") and not output.exists()


class FakeCudaDriver:
    """The libcuda calls tools/cuda_events.py makes, kept in `calls`; handles count up from 100, and a
    call named in `failing` returns that CUresult."""

    def __init__(self, current_context=None, failing=None):
        self.current, self.failing, self.calls, self.handles = current_context, failing or {}, [], 100

    def _done(self, name, *args):
        self.calls.append((name, *args))
        return self.failing.get(name, 0)

    def _new_handle(self, ref, name, *args):
        self.handles += 1
        ref._obj.value = self.handles
        return self._done(name, self.handles, *args)

    def cuCtxGetCurrent(self, ref):
        ref._obj.value = self.current
        return self._done("cuCtxGetCurrent")

    def cuInit(self, flags):
        return self._done("cuInit", flags)

    def cuDeviceGet(self, ref, ordinal):
        ref._obj.value = ordinal
        return self._done("cuDeviceGet", ordinal)

    def cuDevicePrimaryCtxRetain(self, ref, device):
        ref._obj.value = 7
        return self._done("cuDevicePrimaryCtxRetain", device.value)

    def cuCtxSetCurrent(self, context):
        self.current = context.value
        return self._done("cuCtxSetCurrent", context.value)

    def cuStreamCreate(self, ref, flags):
        return self._new_handle(ref, "cuStreamCreate", flags)

    def cuEventCreate(self, ref, flags):
        return self._new_handle(ref, "cuEventCreate", flags)

    def cuEventRecord(self, event, stream):
        return self._done("cuEventRecord", event.value, stream.value)

    def cuEventSynchronize(self, event):
        return self._done("cuEventSynchronize", event.value)

    def cuEventElapsedTime(self, ref, start, end):
        ref._obj.value = 0.25
        return self._done("cuEventElapsedTime", start.value, end.value)


def test_driver_events_time_on_a_stream_of_their_own_in_the_frameworks_context(monkeypatch):
    driver = FakeCudaDriver(current_context=5)
    monkeypatch.setattr(cuda_events, "_library", driver)
    start, end, stream = cuda_events.Event(), cuda_events.Event(), cuda_events.Stream()
    start.record(stream)
    end.record(stream)
    end.synchronize()
    assert start.elapsed_time(end) == 0.25
    made = [call for call in driver.calls if call[0] != "cuCtxGetCurrent"]
    assert made == [("cuEventCreate", 101, 0), ("cuEventCreate", 102, 0), ("cuStreamCreate", 103, 1),
                    ("cuEventRecord", 101, 103), ("cuEventRecord", 102, 103), ("cuEventSynchronize", 102),
                    ("cuEventElapsedTime", 101, 102)], "timed events, a non-blocking stream, the framework's context"


def test_driver_events_take_the_primary_context_where_none_is_current(monkeypatch):
    driver = FakeCudaDriver(current_context=None)
    monkeypatch.setattr(cuda_events, "_library", driver)
    cuda_events.Stream()
    assert [call[0] for call in driver.calls[:5]] == ["cuCtxGetCurrent", "cuInit", "cuDeviceGet",
                                                      "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent"]
    assert driver.current == 7 and ("cuDevicePrimaryCtxRetain", 0) in driver.calls, "device 0's primary context"


def test_a_failing_driver_call_or_a_missing_driver_is_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(cuda_events, "_library", FakeCudaDriver(current_context=5, failing={"cuEventRecord": 400}))
    start, stream = cuda_events.Event(), cuda_events.Stream()
    with pytest.raises(cuda_events.DriverError, match=r"^cuEventRecord returned CUresult 400$"):
        start.record(stream)

    def no_library(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(cuda_events, "_library", None)
    monkeypatch.setattr(cuda_events.ctypes, "CDLL", no_library)
    with pytest.raises(cuda_events.DriverError, match=r"no CUDA driver library here .*need an NVIDIA GPU"):
        cuda_events.Event()


def test_fidelity_takes_events_from_the_driver_or_torch_and_refuses_driver_events_on_apple(monkeypatch):
    monkeypatch.setattr(cuda_events, "_library", FakeCudaDriver(current_context=5))
    start, end, stream = fidelity.events_for(BACKENDS["cuda"], "driver")
    assert isinstance(start, cuda_events.Event) and isinstance(stream, cuda_events.Stream)
    with pytest.raises(NotImplementedError, match="CUDA only: on an Apple GPU use --events torch"):
        fidelity.events_for(BACKENDS["mps"], "driver")
    monkeypatch.setattr(fidelity.sys, "platform", "linux")
    assert fidelity.default_instrument() == "driver", "on NVIDIA GPUs: no torch in MLX's processes, as under asv"
    monkeypatch.setattr(fidelity.sys, "platform", "darwin")
    assert fidelity.default_instrument() == "torch", "on Apple GPUs: the only events there"


def test_processes_report_each_ones_level_by_window_and_the_cpus_it_ran_on():
    # (seconds after the warm-up, us, CPU, us of the setup before the call)
    p1 = [(0.05, 10.0, 1, 4.0), (0.2, 20.0, 1, 5.0), (0.25, 30.0, 2, 9.0)]
    p2 = [(0.05, 40.0, 3, 7.5)]
    text = processes.report("ReLU / dim=128x16x1024", "cuda", "strict", [p1, p2])
    rows = {cells[0]: cells for cells in map(cells_of, text.splitlines()) if cells[0] in ("p1", "p2", "process")}
    assert rows["process"][-5:] == ["all calls", "setup", "calls", "CPUs", "CPU changes"]
    assert rows["p1"] == ["p1", "10.0", "25.0", "", "", "", "", "20.0", "5.0", "3", "1,2", "1"]
    assert rows["p2"][1] == "40.0" and rows["p2"][-5:] == ["40.0", "7.5", "1", "3", "0"]
    assert text.rstrip().splitlines()[-2:] == ["slowest process over fastest: 2.000; their setups (host work alone): "
                                               "1.500", cpu_wakeup.described(None)]


def test_the_cpus_taking_the_gpus_interrupts_are_where_the_kernel_delivers_the_lines_in_use(tmp_path):
    interrupts, irq = stand_in_interrupts(tmp_path, delivered={"45": "2", "46": "3"})
    assert gpu_interrupts.interrupt_cpus(interrupts, irq) == {2}, "line 46 has taken none: its CPU is not avoided"
    assert gpu_interrupts.cpus_avoiding({0, 1, 2, 3}, interrupts, irq) == ({0, 1, 3}, {2})
    assert gpu_interrupts.interrupt_cpus(interrupts, tmp_path / "no-irq") == {2}, \
        "the counts, where the kernel says nothing"
    unused = NVIDIA_INTERRUPTS.replace("9000", "   0")
    fresh, irq2 = stand_in_interrupts(tmp_path / "fresh", unused, delivered={"45": "0-1", "46": "3"})
    assert gpu_interrupts.interrupt_cpus(fresh, irq2) == {0, 1, 3}, "before any interrupt: wherever a line would go"
    assert gpu_interrupts.interrupt_cpus(fresh, tmp_path / "no-irq") == set()
    _, everywhere = stand_in_interrupts(tmp_path / "everywhere", delivered={"45": "0-3", "46": "0-3"})
    assert gpu_interrupts.interrupt_cpus(interrupts, everywhere) == {2}, "a list of every CPU tells nothing: the counts"
    assert gpu_interrupts.counts(interrupts) == {0: 0, 1: 0, 2: 9000, 3: 0}
    for text, cpus in (("14", {14}), ("0-3,8", {0, 1, 2, 3, 8}), ("0-13,15", set(range(14)) | {15})):
        assert gpu_interrupts.parse_cpu_list(text) == cpus and gpu_interrupts.cpu_list(cpus) == text


def test_avoiding_the_gpus_interrupts_says_in_one_line_when_there_is_nothing_to_avoid_or_left(tmp_path, monkeypatch):
    interrupts, irq = stand_in_interrupts(tmp_path, delivered={"45": "2"})
    with pytest.raises(gpu_interrupts.NoInterruptsError,
                       match=r"^--avoid-gpu-interrupts: every CPU this process may use \(2\) takes the GPU's "
                             r"interrupts; leave the option"):
        gpu_interrupts.cpus_avoiding({2}, interrupts, irq)
    other = tmp_path / "other"
    other.write_text("           CPU0\n  9:          0   IO-APIC   9-fasteoi   acpi\n")
    for table in (other, tmp_path / "missing"):
        with pytest.raises(gpu_interrupts.NoInterruptsError,
                           match=r"shows no CPU taking the NVIDIA driver's interrupts, so none to avoid"):
            gpu_interrupts.cpus_avoiding({0}, table, irq)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as on macOS: the same line, no AttributeError
    with pytest.raises(gpu_interrupts.NoInterruptsError, match=r"so none to avoid \(Linux with NVIDIA's driver only\)"):
        gpu_interrupts.cpus_avoiding(path=tmp_path / "missing", irq_folder=irq)


def test_processes_avoiding_the_gpus_interrupts_run_on_the_other_cpus(tmp_path, monkeypatch, capsys):
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("one CPU allowed here: none would be left beside the interrupts' own")
    interrupts, irq = stand_in_interrupts(tmp_path, interrupts_all_on(allowed[-1]), delivered={"45": str(allowed[-1])})
    real = gpu_interrupts.cpus_avoiding
    monkeypatch.setattr(gpu_interrupts, "cpus_avoiding", lambda: real(None, interrupts, irq))
    processes.main(["Floor / dim=1", "--backend", "cpu", "--avoid-gpu-interrupts", "--processes", "2",
                    "--seconds", "0.05"])
    out = capsys.readouterr().out
    left = gpu_interrupts.cpu_list(allowed[:-1])
    assert out.startswith(f"pinned to CPUs {left}: CPUs {allowed[-1]} take the GPU's interrupts\n"), out
    rows = {cells[0]: cells for cells in map(cells_of, out.splitlines())
            if cells and cells[0] in ("process", "p1", "p2")}
    column = rows["process"].index("CPUs")
    ran_on = {rows[p][column] for p in ("p1", "p2")}
    assert ran_on and all(set(map(int, cpus.split(","))) <= set(allowed[:-1]) for cpus in ran_on), out


def test_processes_name_the_cpus_that_took_the_gpus_interrupts_while_each_ran(tmp_path):
    table = tmp_path / "interrupts"
    table.write_text("           CPU0       CPU1       CPU2\n"
                     "  9:          0          0          0   IO-APIC   9-fasteoi   acpi\n"
                     " 45:         10        200          5   PCI-MSIX-0000:00:05.0   0-edge      nvidia\n"
                     " 46:          1          0          2   PCI-MSIX-0000:00:05.0   1-edge      nvidia\n"
                     "NMI:          7          7          7   Non-maskable interrupts\n")
    before = gpu_interrupts.counts(table)
    assert before == {0: 11, 1: 200, 2: 7}, "the driver's lines summed per CPU, the others left out"
    after = {0: 11, 1: 5200, 2: 10}
    assert processes.interrupts_between(before, after) == "1:5000, 2:3"
    assert processes.interrupts_between(before, before) == "0"
    table.write_text("           CPU0       CPU1\n  9:          0          0   IO-APIC   9-fasteoi   acpi\n")
    assert gpu_interrupts.counts(table) is None and gpu_interrupts.counts(tmp_path / "missing") is None
    p1, p2 = [(0.05, 10.0, 1, 3.0)], [(0.05, 40.0, 3, 3.0)]
    text = processes.report("ReLU / dim=128x16x1024", "cuda", "strict", [p1, p2], interrupts=["1:5000, 2:3", "0"])
    rows = {cells[0]: cells for cells in map(cells_of, text.splitlines()) if cells[0] in ("p1", "p2", "process")}
    assert rows["process"][-1] == "GPU interrupts, CPU:count"
    assert rows["p1"][-1] == "1:5000, 2:3" and rows["p2"][-1] == "0"
    assert "GPU interrupts" not in processes.report("ReLU / dim=128x16x1024", "cuda", "strict", [p1, p2])


def test_processes_runs_new_processes_pinned_as_asked_and_refuses_bad_input_in_one_line():
    def tool(*args):
        return subprocess.run([sys.executable, "-m", "tools.processes", *args], cwd=ROOT, capture_output=True,
                              text=True, env=dict(os.environ, MLXBENCH_BACKENDS="cpu"), timeout=300)

    run = tool("ReLU / dim=128x16x1024", "--backend", "cpu", "--processes", "2", "--seconds", "0.2",
               "--cpu-affinity", "0")
    assert run.returncode == 0, run.stderr
    rows = [cells for cells in map(cells_of, run.stdout.splitlines()) if cells[0] in ("p1", "p2")]
    assert len(rows) == 2 and all(int(cells[-3]) > 0 and cells[-2] == "0" and float(cells[-4]) > 0 for cells in rows), \
        run.stdout
    for args, message in [(["ReLU / dim=1"], "error: no case 'ReLU / dim=1'"),
                          (["ReLU / dim=128x16x1024", "--backend", "mlx_cpu"],
                           "error: mlx_cpu is not in MLXBENCH_BACKENDS=cpu")]:
        refused = tool(*args)
        assert refused.returncode == 1 and refused.stderr.startswith(message) and refused.stderr.count("\n") == 1


def test_processes_refuse_a_cpu_list_of_no_cpu_or_of_cpus_it_may_not_run_on_before_running_anything(monkeypatch,
                                                                                                     capsys):
    monkeypatch.setattr(processes, "forked", lambda *args, **kwargs: pytest.fail("a process ran"))
    row = "Softmax / dim=64x1000000 axi=-1"
    with pytest.raises(SystemExit) as refused:
        processes.main([row, "--backend", "cpu", "--cpu-affinity", "5-2"])  # asv reads a falling range as none
    error = capsys.readouterr().err.splitlines()[-1]
    assert refused.value.code == 2 and error.endswith("'5-2' names no CPU: write a range low to high, e.g. 2-5"), error
    assert processes.affinity("0") == [0]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1}, raising=False)  # a cpuset without CPU 0
    with pytest.raises(SystemExit) as refused:
        processes.main([row, "--backend", "cpu", "--cpu-affinity", "0"])
    error = capsys.readouterr().err.splitlines()[-1]
    assert refused.value.code == 2 and error.endswith("'0' names CPU 0, which this process may not run on: name "
                                                      "CPUs of 1 only"), error


def test_process_cost_adds_each_step_from_the_fork_to_the_process_gone():
    messages = [(step, 10.0 + n / 100) for n, step in enumerate(process_cost.STEPS[:-1], 1)]
    ms = process_cost.steps_ms(10.0, messages, 10.125)
    assert list(ms) == list(process_cost.STEPS)
    assert all(ms[step] == pytest.approx(10.0) for step in process_cost.STEPS[:-1])
    assert ms["exit"] == pytest.approx(35.0)
    assert sum(ms.values()) == pytest.approx(125.0), "the steps add up to the parent's clock, fork to exit"


def test_process_cost_times_a_forked_process_step_by_step_and_refuses_bad_input_in_one_line():
    def tool(*args):
        return subprocess.run([sys.executable, "-m", "tools.process_cost", *args], cwd=ROOT, capture_output=True,
                              text=True, env=dict(os.environ, MLXBENCH_BACKENDS="cpu"), timeout=300)

    run = tool("Floor / dim=1", "ReLU / dim=128x16x1024", "--backend", "cpu", "--processes", "2")
    assert run.returncode == 0, run.stderr
    head = [cells for cells in map(cells_of, run.stdout.splitlines()) if cells and cells[0] == "process"]
    assert len(head) == 2 and head[0][1:-2] == list(process_cost.STEPS), run.stdout
    rows = [cells for cells in map(cells_of, run.stdout.splitlines()) if cells and cells[0] in ("p1", "p2", "median")]
    assert len(rows) == 6, run.stdout
    for cells in rows:
        steps = dict(zip(process_cost.STEPS, map(float, cells[1:-2])))
        assert all(value >= 0 for value in steps.values())
        assert float(cells[-2]) == pytest.approx(sum(steps.values()), abs=0.6)
        assert steps["warm-up"] >= 1e3 * common.WARM_UP_SECONDS, "the suite's warm-up runs in the process's own time"
        assert steps["asv warm-up"] >= 1e3 * common.OpBenchmark.warmup_time
    assert all(cells[-1] == "25" for cells in rows if cells[0] != "median"), "fast cases take asv's 25 samples"
    for args, message, code in [
            (["ReLU / dim=1"], "error: no case 'ReLU / dim=1'", 1),
            (["ReLU / dim=128x16x1024", "--backend", "mlx_cpu"], "error: mlx_cpu is not in MLXBENCH_BACKENDS=cpu", 1),
            (["ReLU / dim=128x16x1024", "--backend", "cpu", "--metric", "throughput"], "usage:", 2)]:
        refused = tool(*args)
        assert refused.returncode == code and refused.stderr.startswith(message), refused.stderr
        assert refused.stderr.count("\n") == 1 if code == 1 else "not cpu" in refused.stderr.splitlines()[-1]


def test_processes_can_hold_the_cpus_wake_up_latency_and_name_their_idle_states(tmp_path):
    request = tmp_path / "cpu_dma_latency"  # the kernel's file takes a 32-bit value; a plain file keeps it
    request.write_bytes(b"")
    with cpu_wakeup.held(7, str(request)):
        assert struct.unpack("i", request.read_bytes()) == (7,), "written before the processes run"
    with pytest.raises(SystemExit, match=r"^error: cannot hold the CPUs' wake-up latency: .*missing: No such file "
                                         r"or directory; run as root on Linux, or leave out --cpu-latency-us$"):
        with cpu_wakeup.held(0, str(tmp_path / "missing")):
            pass
    with cpu_wakeup.held(None, str(tmp_path / "missing")):
        pass  # no limit asked for: nothing opened, nothing refused
    for number, name, latency in ((0, "POLL", 0), (2, "C6", 170), (10, "C10", 890), (1, "C1", 2)):
        state = tmp_path / "cpuidle" / f"state{number}"
        state.mkdir(parents=True)
        (state / "name").write_text(f"{name}\n")
        (state / "latency").write_text(f"{latency}\n")
    assert cpu_wakeup.idle_states(tmp_path / "cpuidle") == "POLL 0 us, C1 2 us, C6 170 us, C10 890 us"
    assert cpu_wakeup.idle_states(tmp_path / "none") == ""
    text = processes.report("ReLU / dim=128x16x1024", "cuda", "strict", [[(0.05, 10.0, 1, 3.0)]], cpu_latency_us=0)
    assert "; held to a wake-up latency of 0 us" in text.rstrip().splitlines()[-1]
    assert cpu_wakeup.described(0, tmp_path / "cpuidle") == ("CPU idle states (exit latency): POLL 0 us, C1 2 us, "
                                                             "C6 170 us, C10 890 us; held to a wake-up latency of 0 us")
    assert cpu_wakeup.described(0, tmp_path / "none") == (
        "CPU idle states (exit latency): not shown by this system; held to a wake-up latency of 0 us, which changes "
        "nothing here: there is no idle state to keep the CPUs out of")
    assert cpu_wakeup.described(None, tmp_path / "none") == "CPU idle states (exit latency): not shown by this system"
    for bad in ("-1", "x", "2147483648"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"'{bad}' is no number of microseconds"):
            options.microseconds(bad)


def test_processes_with_events_records_fidelitys_events_around_each_call_and_only_on_a_gpu(monkeypatch, capsys):
    log = []

    class Event:
        def __init__(self, name):
            self.name = name

        def record(self, stream=None):
            log.append((self.name, stream))

        def synchronize(self):
            log.append((f"{self.name} waited", None))

    instruments = []
    monkeypatch.setattr(fidelity, "events_for",
                        lambda backend, instrument: instruments.append(instrument) or (Event("start"), Event("end"),
                                                                                       "own stream"))
    backend, run = BACKENDS["cpu"], BACKENDS["cpu"].run

    def logged_run(op, args):
        log.append(("call", None))
        return run(op, args)

    monkeypatch.setattr(backend, "run", logged_run)
    calls = []
    processes.timed_calls("ReLU / dim=128x16x1024", "cpu", "strict", 0.05, None, "driver", calls.append)
    timed = log[log.index(("start", "own stream")):]  # the warm-up's calls come first, without events
    one_call = [("start", "own stream"), ("call", None), ("end", "own stream"), ("end waited", None)]
    assert calls and timed == one_call * len(calls)
    assert instruments == ["driver"], "the events of the instrument asked for"
    assert "device events (the CUDA driver's) recorded around each call" in processes.report(
        "ReLU / dim=128x16x1024", "cuda", "strict", [calls], with_events="driver")
    assert "(torch's)" in processes.report(
        "ReLU / dim=128x16x1024", "cuda", "strict", [calls], with_events="torch")
    refused = subprocess.run([sys.executable, "-m", "tools.processes", "ReLU / dim=128x16x1024", "--backend", "cpu",
                              "--with-events"], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(
        "--with-events records device events: cpu is no GPU backend (give one of mlx_gpu, mps, cuda, mlx_gpu_compile)")
    with pytest.raises(SystemExit):  # the driver's events parse, and are refused off the GPU alike
        processes.main(["ReLU / dim=128x16x1024", "--backend", "cpu", "--with-events", "driver"])
    assert capsys.readouterr().err.strip().endswith(
        "cpu is no GPU backend (give one of mlx_gpu, mps, cuda, mlx_gpu_compile)")


def test_fidelity_judges_only_cases_above_the_threshold_and_names_the_floor():
    records = [record("big", "cuda", 1.00), record("off", "mlx_gpu", 0.50), record("small", "cuda", 0.05),
               record("spread", "cuda", 1.00), record("asv spread", "cuda", 1.00),
               record("dim=1", "cuda", 0.03, family="Floor"),
               {"family": "Sort", "case": "s", "backend": "mlx_gpu", "precision": "strict", "error": "known failure"}]
    records[0]["first_ms"] = 1.02  # asv's window: 1.04 over it is within 5 %
    records[1]["levels_ms"] = (0.45, 0.55)  # asv's processes, 0.38-0.44, all ran below every one of these
    records[3]["levels_ms"] = (0.80, 1.20)  # asv's 0.85 (no processes of its own) is where one of these ran
    records[4]["levels_ms"] = (0.95, 1.05)  # asv's 0.80 is far below, but its slowest process ran at 0.96
    figures = {("MatMul", "big", "cuda", "strict"): 1.04, ("MatMul", "off", "mlx_gpu", "strict"): 0.40,
               ("MatMul", "small", "cuda", "strict"): 0.10, ("MatMul", "spread", "cuda", "strict"): 0.85,
               ("MatMul", "asv spread", "cuda", "strict"): 0.80}
    asv_spans = {("MatMul", "off", "mlx_gpu", "strict"): (0.38, 0.44),
                 ("MatMul", "asv spread", "cuda", "strict"): (0.78, 0.96)}
    text = fidelity.report(records, figures, "title", asv_spans)
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "/" in line}
    assert "1.040" in lines["MatMul / big"] and "| ok" in lines["MatMul / big"]
    assert cells_of(lines["MatMul / off"])[3:7] == ["0.400", "0.380-0.440", "0.500", "0.450-0.550"]
    assert cells_of(lines["MatMul / off"])[-1] == "OFF", "no process of asv's ran where one of the check's did"
    assert "0.850" in lines["MatMul / spread"] and cells_of(lines["MatMul / spread"])[-1] == fidelity.OVERLAPPING
    assert cells_of(lines["MatMul / asv spread"])[-1] == fidelity.OVERLAPPING, "asv's own processes count"
    assert "2.000" in lines["MatMul / small"] and "OFF" not in lines["MatMul / small"], "below 0.2 ms: not judged"
    assert "known failure" in lines["Sort / s"]
    assert ("1 of 4 cases of 0.2 ms or more within 5%; furthest asv/events 0.800; of the 3 off, where asv's "
            "processes and the event processes overlap: 2; highest process level over lowest, median over the "
            "judged cases: x1.222") in text
    assert ("asv's processes and the event processes apart (every level of one side below the other's) in 1 of 2 "
            "judged cases with both, 0.2 expected by chance were the two sides' processes alike") in text
    four = fidelity.report(records, figures, "title", asv_spans, asv_rounds=4)  # 2 / C(7, 4) a case
    assert "in 1 of 2 judged cases with both, 0.1 expected by chance" in four
    assert "floor (synchronised one-element op, by events): cuda 0.030 ms" in text
    assert "host clock over events on the same calls: median 1.010, furthest 1.010" in text
    # big: 1.04 over 1.02 (within); off: 0.40 over 0.60, spread: 0.85 over 1.2, asv spread 0.80 over 1.2 (off)
    assert ("against the events of the first 25 calls after the case's warm-up in each process (asv's window): "
            "1 of 4 within 5%") in text
    per_backend = {cells[0]: cells[1:] for cells in map(cells_of, text.splitlines())
                   if cells and cells[0] in GPU_BACKENDS}
    assert per_backend == {"cuda": ["3", "1", "2", "0", "0.850"], "mlx_gpu": ["1", "0", "0", "1", "0.800"]}


def test_processes_of_one_spread_fall_apart_as_often_as_their_orderings_say():
    assert fidelity.apart_chance(3, 3) == pytest.approx(0.1), "2 of the 20 orderings of 3 and 3"
    assert fidelity.apart_chance(1, 1) == 1 and fidelity.apart_chance(2, 1) == pytest.approx(2 / 3)
    rng = random.Random(5)
    draws = 20000
    apart = sum(not fidelity.levels_overlap(*(sorted(rng.random() for _ in range(3))[::2] for _ in range(2)))
                for _ in range(draws))
    assert abs(apart / draws - 0.1) < 0.01, "the chance, drawn"


def test_fidelity_reads_the_levels_of_asvs_own_processes_from_their_samples():
    # make bench's GPU figure pools gpu_rounds processes of 25 samples each, appended in run order; a
    # slow case's processes take fewer, and where one ends is not recorded.
    result = gpu_run({"dim=128x16x1024": (0.001, 0.002, 0.0015), "dim=64x128x1024": [0.001] * 30})
    assert fidelity.asv_levels(result) == {("ReLU", "dim=128x16x1024", "cuda", "strict"): pytest.approx((1.0, 2.0))}
    assert fidelity.asv_figures(result) == {("ReLU", "dim=128x16x1024", "cuda", "strict"): pytest.approx(1.5),
                                            ("ReLU", "dim=64x128x1024", "cuda", "strict"): pytest.approx(1.0)}
    four = gpu_run({"dim=128x16x1024": (0.001, 0.002, 0.0015, 0.003)})
    assert fidelity.asv_levels(four) == {}, "four processes are no figure of the suite's three rounds"
    assert fidelity.asv_levels(four, rounds=4) == {("ReLU", "dim=128x16x1024", "cuda", "strict"):
                                                   pytest.approx((1.0, 3.0))}


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU backend: the tool would measure")
def test_fidelity_without_a_gpu_is_one_line():
    write = subprocess.run([sys.executable, "-m", "tools.fidelity", "--machine", "h100-sxm-80gb"], cwd=ROOT,
                           capture_output=True, text=True)
    assert write.returncode == 1 and write.stderr.strip() == (
        "error: no GPU backend here (mlx_gpu, mps, cuda); run it on the GPU machine of the results")


def test_two_equal_runs_agree_and_a_slower_case_is_named(tmp_path, capsys):
    for run in ("one", "two"):
        write_fake_results(tmp_path / run, "box")
    write_fake_results(tmp_path / "slow", "box", slower=("Softmax / dim=64x1000000 axi=-1", "cpu"))
    assert stability.main([str(tmp_path / "one"), str(tmp_path / "two"), "--machine", "box"]) == 0
    same = capsys.readouterr().out
    assert "median change 0.0%" in same and "beyond x1.1: 0" in same and "| Change" in same, "asv's table, then ours"
    assert "asv's table marks 0 changed (beyond x1.1 and significant by its test: + or -); 0 more" in same
    assert stability.main([str(tmp_path / "one"), str(tmp_path / "slow"), "--machine", "box"]) == 1
    slow = capsys.readouterr().out
    assert "beyond x1.1: 1" in slow
    assert "bench_activations.Softmax.time_latency('dim=64x1000000 axi=-1', 'cpu'): x3.000" in slow
    assert "asv's table marks 1 changed" in slow, "no samples: asv's test is the factor alone"
    write_fake_results(tmp_path / "failed", "box", failed=("Softmax / dim=64x1000000 axi=-1", "cpu"))
    assert stability.main([str(tmp_path / "one"), str(tmp_path / "failed"), "--machine", "box"]) == 0
    # the case's three dtypes: float32 measured in the first run, its half dtypes skipped (asv counts
    # skipped before, failed after, as a failure too)
    assert "0 more moved beyond x1.1 that its test does not find significant (~); 3 failed in one run only (! or *)." \
        in capsys.readouterr().out
    beyond = {}  # the breakdown: per backend, the cases moved beyond the factor, summed over time bands
    for line in slow.splitlines():
        cells = cells_of(line)
        if len(cells) == 5 and cells[0] in ("cpu", "mlx_cpu"):
            beyond[cells[0]] = beyond.get(cells[0], 0) + int(cells[4])
    assert beyond == {"cpu": 1, "mlx_cpu": 0}


def test_stability_shows_a_shift_that_a_modules_cases_shared():
    ratios = [("bench_activations.ReLU.time_latency('a', 'cuda')", "cuda", "under 0.2 ms", 0.90, None),
              ("bench_activations.GELU.time_latency('b', 'cuda')", "cuda", "under 0.2 ms", 0.95, None),
              ("bench_activations.SiLU.time_latency('c', 'cuda')", "cuda", "0.2-1 ms", 1.01, None),
              ("bench_linalg.MatMul.time_latency('d', 'cuda', 'strict')", "cuda", "1-10 ms", 1.05, None)]
    rows = {tuple(cells_of(line)[:2]): cells_of(line)[2:] for line in stability.by_module(ratios).splitlines()[2:]}
    assert rows == {("bench_activations", "cuda"): ["3", "0.950", "2", "0"],
                    ("bench_linalg", "cuda"): ["1", "1.050", "0", "1"]}


def test_stability_reads_the_benchmark_list_of_the_runs_it_compares(tmp_path, capsys, monkeypatch):
    for run in ("one", "two"):
        write_fake_results(tmp_path / run, "box")
    monkeypatch.setattr(stability, "RESULTS", tmp_path / "elsewhere")  # a checkout without results/
    args = [str(tmp_path / "one"), str(tmp_path / "two"), "--machine", "box"]
    assert stability.main(args) == 1
    assert capsys.readouterr().err.startswith("error: no benchmarks.json (asv writes it beside the results) in ")
    shutil.copy(ROOT / "results" / "benchmarks.json", tmp_path / "two")
    assert stability.main(args) == 0 and "median change 0.0%" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        stability.main([*args, "--factor", "0.5"])
    assert refused.value.code == 2 and "'0.5' is no factor of change: give a number above 1" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["abc", "inf", "nan", "1", "-3"])
def test_stability_refuses_a_factor_that_is_no_finite_number_above_one_saying_how_to_write_one(text, capsys):
    with pytest.raises(SystemExit) as refused:
        stability.main(["one", "two", "--machine", "box", "--factor", text])
    error = capsys.readouterr().err.splitlines()[-1]
    assert refused.value.code == 2 and error == (f"python -m tools.stability: error: argument --factor: {text!r} is no "
                                                 "factor of change: give a number above 1, e.g. 1.1 for 10 %")
    assert stability.factor_above_one("1.25") == 1.25


def test_stability_compares_only_the_figures_selected_and_refuses_a_bad_selection_in_one_line(tmp_path, capsys):
    write_fake_results(tmp_path / "one", "box", with_gpu=True)
    write_fake_results(tmp_path / "two", "box", with_gpu=True, slower=("Softmax / dim=64x1000000 axi=-1", "cpu"))
    shutil.copy(ROOT / "results" / "benchmarks.json", tmp_path / "two")
    args = [str(tmp_path / "one"), str(tmp_path / "two"), "--machine", "box"]
    assert stability.main(args) == 1 and "244 figures in both runs" in capsys.readouterr().out, \
        "mlx_gpu, mlx_cpu, mps, cpu"
    assert stability.main([*args, "--backends", "mlx_gpu,mlx_cpu"]) == 0
    out = capsys.readouterr().out
    assert "122 figures in both runs" in out and "beyond x1.1: 0" in out
    assert "'mlx_gpu')" in out and not any(f"'{name}')" in out for name in ("cpu", "mps")), "asv's table too"
    assert stability.main([*args, "--bench", "Softmax", "--backends", "cpu"]) == 1
    assert "6 figures in both runs" in capsys.readouterr().out, "Softmax's six cases on cpu"
    assert stability.main([*args, "--dtypes", "float16"]) == 1
    assert capsys.readouterr().err.strip() == "error: the two runs have no figure in common"
    for bad, message in ((["--backends", "gpu"], "error: unknown backend gpu: give some of mlx_gpu, mlx_cpu, cpu, mps, "
                                                 "cuda, mlx_gpu_compile, comma-separated"),
                         (["--bench", "("], "error: --bench '(' is not a regular expression (missing ), unterminated "
                                            "subpattern at position 0)")):
        assert stability.main([*args, *bad]) == 1
        assert capsys.readouterr().err.strip() == message


def test_a_run_from_before_the_dtype_parameter_compares_with_one_after(tmp_path, capsys):
    write_fake_results(tmp_path / "old", "box", without_dtype=True)
    write_fake_results(tmp_path / "new", "box", slower=("Softmax / dim=64x1000000 axi=-1", "cpu"))
    assert stability.main([str(tmp_path / "old"), str(tmp_path / "new"), "--machine", "box"]) == 1
    out = capsys.readouterr().out
    assert "122 figures in both runs" in out, "61 reference cases on mlx_cpu and cpu, float32 in both"
    assert "beyond x1.1: 1" in out and "Softmax.time_latency('dim=64x1000000 axi=-1', 'cpu'): x3.000" in out


def test_stability_pairs_two_runs_of_different_environments_in_asvs_table(tmp_path, capsys):
    # Two checkouts of the project on one machine: asv names each environment by its interpreter's path.
    write_fake_results(tmp_path / "one", "box", env_name="existing-py_clone-a_.venv_bin_python")
    write_fake_results(tmp_path / "two", "box", env_name="existing-py_clone-b_.venv_bin_python",
                       slower=("Softmax / dim=64x1000000 axi=-1", "cpu"))
    shutil.copy(ROOT / "results" / "benchmarks.json", tmp_path / "two")
    assert stability.main([str(tmp_path / "one"), str(tmp_path / "two"), "--machine", "box", "--backends", "cpu"]) == 1
    out = capsys.readouterr().out
    assert ("two environments (existing-py_clone-a_.venv_bin_python, existing-py_clone-b_.venv_bin_python); asv's "
            "table pairs their figures under the first's name") in out
    rows = [cells_of(line) for line in out.splitlines() if line.startswith("| ")]
    measured = [row for row in rows if ".time_latency(" in row[4] and (row[1] != "n/a" or row[2] != "n/a")]
    assert len(measured) == 61 and all(row[3] != "n/a" for row in measured), "one row a figure, with its ratio"
    softmax, = (row for row in measured if "Softmax.time_latency('dim=64x1000000 axi=-1', 'cpu'" in row[4])
    assert softmax[0] == "+" and softmax[3] == "3.00"


def test_stability_of_an_unknown_machine_is_one_line(tmp_path, capsys):
    write_fake_results(tmp_path / "one", "box")
    assert stability.main([str(tmp_path / "one"), str(tmp_path / "one"), "--machine", "nope"]) == 1
    assert capsys.readouterr().err.strip() == "error: no results for machine 'nope'; machines with results: box"


@pytest.mark.parametrize("args, message", [
    (["MatMul / dim=1x2"], "error: no case 'MatMul / dim=1x2'; write it as the tables do"),
    (["MatMul / dim=1000x64x256 dim=256x32", "--backend", "cuda"], "error: cuda: torch has no CUDA device"),
    (["GELU / dim=1x32x11008", "--backend", "mlx_gpu_compile"], "error: mlx_gpu_compile: MLX has no GPU backend"),
])
def test_profile_case_refuses_bad_input_in_one_line(args, message):
    if "--backend" in args and not BACKENDS[args[args.index("--backend") + 1]].unavailable_reason():
        pytest.skip("this machine has the backend: the case would be profiled")
    run = subprocess.run([sys.executable, "-m", "tools.profile_case", *args], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.strip().startswith(message) and run.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("kind, text, value", [(int, "3", 3), (float, "0.25", 0.25), (int, "0", None),
                                              (int, "-2", None), (int, "1.5", None), (int, "x", None),
                                              (float, "nan", None), (float, "inf", None), (float, "-0.1", None)])
def test_a_count_option_takes_a_finite_number_above_zero_and_names_what_it_counts(kind, text, value):
    parse = options.above_zero(kind, "number of calls")
    if value is not None:
        assert parse(text) == value and type(parse(text)) is kind
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(repr(text))} is no number of calls: give "
                                                             "one above 0$"):
            parse(text)


def test_profile_case_takes_a_positive_number_of_calls():
    run = subprocess.run([sys.executable, "-m", "tools.profile_case", "ReLU / dim=128x16x1024", "--calls", "0"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "'0' is no number of calls: give one above 0" in run.stderr


def test_stability_splits_a_gpu_figure_into_its_processes_and_tells_their_spread_from_a_shift():
    assert common.OpBenchmark.gpu_rounds == 3
    before = gpu_run({"noisy": (10e-6, 12e-6, 11e-6), "shifted": (10e-6, 10e-6, 10.1e-6), "slow": [0.5e-3, 0.6e-3]})
    after = gpu_run({"noisy": (12e-6, 13e-6, 12.5e-6), "shifted": (12e-6, 12e-6, 12.1e-6), "slow": [0.5e-3, 0.6e-3]})
    ratios = {name.split("'")[1]: (r, levels) for name, _, _, r, levels in stability.changes(before, after)}
    assert ratios["noisy"][0] == pytest.approx(12.5 / 11) and ratios["noisy"][1] == (
        pytest.approx([10e-6, 12e-6, 11e-6]), pytest.approx([12e-6, 13e-6, 12.5e-6])), "the medians of 25 samples each"
    assert ratios["slow"][1] is None, "a slow case's processes take fewer samples: not split"
    table = stability.by_process(list(stability.changes(before, after)), 1.1)
    rows = [cells_of(line) for line in table.splitlines()[2:3]]
    # noisy moved x1.136, less than its first run's processes differ (x1.2); shifted moved x1.2, all of
    # its processes with it (x1.01 apart)
    assert rows == [["cuda", "under 0.2 ms", "2", "x1.047", "2", "1"]]
    assert table.splitlines()[-1] == ("Of the 2 figures split into processes that moved beyond x1.1, 1 moved no more "
                                      "than one run's own processes differ.")


def test_stability_counts_what_asvs_own_table_marks_changed_and_what_its_test_finds_insignificant():
    # noisy's processes overlap (10-14 us in both runs): its median moved x1.23, and asv's test on the
    # samples finds that no change; shifted moved x1.2 with every sample: changed.
    before = gpu_run({"noisy": (10e-6, 14e-6, 11e-6), "shifted": (10e-6, 10e-6, 10.1e-6), "same": (10e-6,) * 3})
    after = gpu_run({"noisy": (14e-6, 10e-6, 13.5e-6), "shifted": (12e-6, 12e-6, 12.1e-6), "same": (10e-6,) * 3})
    conf = Config.load(str(ROOT / "asv.conf.json"))
    conf.results_dir = str(ROOT / "results")
    table = stability.asv_table(conf, before, after, None, 1.1, "box")
    marks = {cells_of(line)[4].split("'")[1]: (cells_of(line)[0], cells_of(line)[3]) for line in table.splitlines()
             if "ReLU" in line}
    assert marks == {"noisy": ("", "~1.23"), "shifted": ("+", "1.20"), "same": ("", "1.00")}
    assert stability.asv_verdicts(table) == (1, 1, 0)
    slower = gpu_run({"noisy": (5e-6, 7e-6, 5.5e-6), "shifted": (10e-6, 10e-6, 10.1e-6), "same": (10e-6,) * 3})
    assert stability.asv_verdicts(stability.asv_table(conf, before, slower, None, 1.1, "box")) == (1, 0, 0), \
        "faster counts too: -"


def test_stability_splits_the_figures_of_as_many_gpu_rounds_as_the_runs_had(tmp_path, capsys):
    four = {"noisy": (10e-6, 12e-6, 11e-6, 10e-6), "slow": [0.5e-3, 0.6e-3]}
    before, after = gpu_run(four), gpu_run({**four, "noisy": (12e-6, 13e-6, 12.5e-6, 12e-6)})
    assert all(levels is None for *_, levels in stability.changes(before, after)), \
        "four blocks are no figure of the suite's three rounds: a slower case's processes may fill them"
    ratios = {name.split("'")[1]: levels for name, _, _, _, levels in stability.changes(before, after, rounds=4)}
    assert ratios["noisy"] == (pytest.approx([10e-6, 12e-6, 11e-6, 10e-6]),
                               pytest.approx([12e-6, 13e-6, 12.5e-6, 12e-6]))
    assert ratios["slow"] is None
    rows = [cells_of(line) for line in stability.by_process(stability.changes(before, after, rounds=4), 1.1, 4)
            .splitlines()[:3]]
    # noisy moved 12.25 / 10.5 (x1.167, the medians of four processes' samples), less than its first
    # run's processes differ (x1.2); the spread is the median of x1.2 and x1.083
    assert rows[0][2] == "figures of 4 processes" and rows[2] == ["cuda", "under 0.2 ms", "1", "x1.142", "1", "1"]
    with pytest.raises(SystemExit) as stop:
        stability.main([str(tmp_path), str(tmp_path), "--machine", "box", "--gpu-rounds", "0"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "error: argument --gpu-rounds: '0' is no number of GPU rounds: give one above 0")


def test_a_runs_process_spread_says_when_the_machine_was_busy():
    quiet = gpu_run({"a": (10e-6, 10.2e-6, 10.1e-6), "b": (20e-6, 20.4e-6, 20e-6), "slow": [0.5e-3, 0.6e-3]})
    busy = gpu_run({"a": (10e-6, 14e-6, 10.1e-6), "b": (20e-6, 20.4e-6, 26e-6), "slow": [0.5e-3, 0.6e-3]})
    assert stability.spreads_of_run(quiet, 3) == {"cuda": pytest.approx(1.02)}, "a: 10.2/10, b: 20.4/20; slow: no split"
    assert stability.busy_note(stability.spreads_of_run(quiet, 3)) == (
        "note: the median GPU figure's processes differed by x1.020 (cuda), highest over lowest")
    assert stability.busy_note(stability.spreads_of_run(busy, 3)).endswith(
        "x1.350 (cuda), highest over lowest; above x1.05 the machine was busy while they ran, and a run beside this "
        "one may differ by as much: compare runs (`python -m tools.stability`) from a quiet machine")
    later = max(quiet.started_at.values()) + 1
    assert stability.spreads_of_run(quiet, 3, later) == {} and stability.busy_note({}) is None, \
        "figures an earlier run timed are not this run's"


def test_stability_tells_what_a_processes_first_samples_add():
    block = [11e-6] * common.OpBenchmark.repeat[1]
    cold = [71e-6, 31e-6, *block[2:]] * common.OpBenchmark.gpu_rounds
    run = gpu_run({"cold": cold, "warm": block * common.OpBenchmark.gpu_rounds, "slow": [0.5e-3, 0.6e-3]})
    found = stability.first_samples(run)
    assert len(found) == 6, "three processes a figure; the slow one's samples do not split"
    rows = [cells_of(line) for line in stability.first_samples_table([("second", found)]).splitlines()[2:]]
    assert rows == [["second", "cuda", "under 0.2 ms", "6", "+30.0", "+10.0"]], "medians over cold and warm processes"

