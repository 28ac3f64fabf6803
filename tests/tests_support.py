"""Fake asv results for the table tests: the reference table's own numbers, written with asv's API
(families beyond the reference table: skipped everywhere); copies of the project for runs of the
tools that must not touch its results."""

import itertools
import math
import shutil
import statistics
import textwrap
from pathlib import Path

from asv.machine import Machine
from asv.results import Results
from asv import util as asv_util

from benchmarks.common import BACK_TO_BACK, Case, OpBenchmark, op_families
from conftest import ROOT
from tools import speedup_table, timeline

# A result in glibc's heap may share its first and last pages with a neighbour, resident before the
# call: the process's RSS then grows by up to that much less than the result (common.rss_peak).
HEAP_EDGES = 2 * 4096

MARKER = []  # what a test sets here, a fork of its process sees and a new interpreter does not


def send_marker(send):
    send(list(MARKER))


def cells_of(line):
    """The cells of one line of a markdown table, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def reference_table_rows():
    """{row name: its milliseconds} of the reference table, in its order."""
    rows = {}
    for line in (ROOT / "docs" / "reference-m1-pro.md").read_text().splitlines():
        cells = cells_of(line)
        if " / dim=" in cells[0]:
            rows[cells[0]] = tuple(float(c) for c in cells[1:])
    return rows


def write_fake_results(results_dir, machine, with_gpu=False, failed=None, release="0.32.4", slower=None,
                       throughput=False, memory=False, compiled=False, half=None, without_dtype=False, cuda=False,
                       env_name="existing-fake"):
    """One asv result file for `release` holding the reference table's milliseconds (`slower`: a
    (row, backend) whose time is tripled); with `memory`, peaks of the result's size on MLX's
    backends and twice it on torch's where a time was measured; with `compiled`, mlx_gpu_compile at half
    mlx_gpu's time (with_gpu); `half`: {dtype: factor}, that dtype's cells hold float32's
    milliseconds times factor, the other dtypes are skipped; `without_dtype`: as written before the
    dtype parameter existed; `cuda`: an NVIDIA machine, mlx_gpu and cuda (mps's milliseconds);
    `env_name`: asv's name of the environment that ran it."""
    results_dir = Path(results_dir)
    (results_dir / machine).mkdir(parents=True, exist_ok=True)
    asv_util.write_json(str(results_dir / machine / "machine.json"),
                        {"machine": machine, "version": Machine.api_version}, Machine.api_version)
    commit = timeline.build()[release]
    params = {"machine": machine, "python": "3.11.7", "mlx": release, "torch": "2.13.0", "numpy": "2.4.6"}
    result = Results(params, {}, commit, 0, "3.11", env_name, {})
    reference = reference_table_rows()
    column = {"mlx_gpu": 0, "mlx_cpu": 1, "mps": 2, "cpu": 3, "cuda": 2}
    factors = {"float32": 1, **(half or {})}
    for family in speedup_table.table_families():
        params = [values_ for values_, name in zip(family.params, family.param_names)
                  if not (without_dtype and name == "dtype")]
        values = []
        for label, backend, *modes in itertools.product(*params):
            row = reference.get(f"{family.__name__} / {label}")  # None: a family beyond the reference table
            present = (backend in ("mlx_cpu", "cpu") or (with_gpu and backend in ("mlx_gpu", "mps"))
                       or (with_gpu and compiled and backend == "mlx_gpu_compile")
                       or (cuda and backend in ("mlx_gpu", "cuda")))
            precision, dtype = family.modes(*modes)
            measured = row is not None and present and precision == "strict" and dtype in factors
            value = float("nan")
            if measured:
                milliseconds = row[column["mlx_gpu"]] / 2 if backend == "mlx_gpu_compile" else row[column[backend]]
                value = milliseconds / 1e3 * factors[dtype]
            if slower == (f"{family.__name__} / {label}", backend):
                value *= 3
            values.append(None if failed == (f"{family.__name__} / {label}", backend) else value)
        key = speedup_table.benchmark_key(family)
        benchmark = {"name": key, "params": [[repr(v) for v in values_] for values_ in params], "version": "1"}
        result.add_result(benchmark, _Run(values), record_samples=False)
        if throughput:  # GPU only, half the latency per call, as asv records it: for BACK_TO_BACK calls
            combos = list(itertools.product(*params))
            back_to_back = [v * BACK_TO_BACK / 2 if c[1] in ("mlx_gpu", "mps") and v is not None else float("nan")
                            for c, v in zip(combos, values)]
            result.add_result(dict(benchmark, name=speedup_table.benchmark_key(family, "throughput")),
                              _Run(back_to_back), record_samples=False)
        if memory:
            peaks = [v if v is None or math.isnan(v) else 4 * family().output_elements(Case.parse(c[0]))
                     * (1 if c[1].startswith("mlx") else 2) for c, v in zip(itertools.product(*params), values)]
            result.add_result(dict(benchmark, name=speedup_table.benchmark_key(family, "memory")),
                              _Run(peaks), record_samples=False)
    if throughput:
        floor = next(f for f in op_families() if f.__name__ == "Floor")
        benchmark = {"name": speedup_table.benchmark_key(floor), "version": "1",
                     "params": [[repr(v) for v in values_] for values_ in floor.params]}
        result.add_result(benchmark, _Run([2.5e-5, 1e-5, 2e-6, 3e-5, float("nan"), float("nan")]), record_samples=False)
    result.save(str(results_dir))
    if failed:
        row, backend = failed
        family_name, label = row.split(" / ", 1)
        family = next(f for f in op_families() if f.__name__ == family_name)
        # asv names every parameter of the combination, the float32 (and strict) one here
        combo = next(c for c in itertools.product(*family.params)
                     if c[:2] == (label, backend) and family.modes(*c[2:]) == ("strict", "float32"))
        (results_dir / machine / f"{commit[:8]}-mlx-{release}.log").write_text(
            f"[ 50%] ··· {speedup_table.benchmark_key(family)}    1/85 failed\n"
            f"              For parameters: {', '.join(repr(v) for v in combo)}\n"
            "              Traceback (most recent call last):\n"
            "              RuntimeError: simulated kernel error\n"
            "              asv: benchmark failed (exit status 1)\n\n"
        )


class _Run:
    """What asv's runner hands Results.add_result."""

    def __init__(self, values):
        self.result = values
        self.samples = [None] * len(values)
        self.number = [None] * len(values)
        self.errcode = 0
        self.stderr = ""
        self.profile = None


def project_copy(tmp_path, modules, cpu_as_gpu=False):
    """A copy of the project whose suite is the bench_* `modules` named (file name: source, or None
    for the project's own), for main-job runs that must not touch the project's results. With
    `cpu_as_gpu` the copy counts the cpu backend among the GPU ones, to run their paths here."""
    project = tmp_path / "project"
    for part in ("tools", "timeline"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "benchmarks").mkdir()
    for name in ("__init__.py", "common.py", "backends.py", "known_failures.py"):
        shutil.copy(ROOT / "benchmarks" / name, project / "benchmarks")
    for name, source in modules.items():
        if source is None:
            shutil.copy(ROOT / "benchmarks" / name, project / "benchmarks")
        else:
            (project / "benchmarks" / name).write_text(textwrap.dedent(source))
    shutil.copy(ROOT / "asv.conf.json", project)
    if cpu_as_gpu:
        with open(project / "benchmarks" / "common.py", "a") as common:
            common.write('\nGPU_BACKENDS = (*GPU_BACKENDS, "cpu")\n')
    return project


def stand_in_wakeup_request(project, tmp_path):
    """A plain file for the project copy's tools to hold the CPUs' wake-up latency in: it keeps the
    32-bit value the kernel's /dev/cpu_dma_latency would take."""
    request = tmp_path / "cpu_dma_latency"
    request.write_bytes(b"")
    wakeup = project / "tools" / "cpu_wakeup.py"
    wakeup.write_text(wakeup.read_text().replace('REQUEST = "/dev/cpu_dma_latency"', f"REQUEST = {str(request)!r}"))
    return request


NVIDIA_INTERRUPTS = ("           CPU0       CPU1       CPU2       CPU3\n"
                     "  9:          0          0          0          0   IO-APIC   9-fasteoi   acpi\n"
                     " 45:          0          0       9000          0   PCI-MSIX-0000:00:05.0   0-edge      nvidia\n"
                     " 46:          0          0          0          0   PCI-MSIX-0000:00:05.0   1-edge      nvidia\n")


def interrupts_all_on(cpu):
    """A /proc/interrupts of CPUs 0 to `cpu` whose one NVIDIA line has taken interrupts on `cpu` alone."""
    return "".join(f" CPU{n}" for n in range(cpu + 1)) + f"\n 45:{' 0' * cpu} 9000   PCI-MSIX  0-edge  nvidia\n"


def stand_in_interrupts(tmp_path, table=NVIDIA_INTERRUPTS, delivered=None, project=None):
    """A /proc/interrupts of `table` and a /proc/irq with each NVIDIA line's effective affinity (irq:
    CPU list in `delivered`; none written where it is None); with `project`, its tools read them."""
    interrupts, irq = tmp_path / "interrupts", tmp_path / "irq"
    tmp_path.mkdir(parents=True, exist_ok=True)
    interrupts.write_text(table)
    for number, cpus in (delivered or {}).items():
        (irq / number).mkdir(parents=True)
        (irq / number / "effective_affinity_list").write_text(cpus + "\n")
    if project is not None:
        module = project / "tools" / "gpu_interrupts.py"
        module.write_text(module.read_text()
                          .replace('INTERRUPTS = "/proc/interrupts"', f"INTERRUPTS = {str(interrupts)!r}")
                          .replace('IRQ_FOLDER = "/proc/irq"', f"IRQ_FOLDER = {str(irq)!r}"))
    return interrupts, irq


def gpu_run(levels_by_case):
    """A result of ReLU's latency on cuda whose samples are those of `make bench`'s GPU processes: per
    case, each process's level (seconds) repeated as many times as asv takes samples in a process, in
    run order; a case given as a plain list is a slow one, its samples as they are."""
    result = Results({"machine": "box"}, {}, "0" * 40, 0, "3.11", "existing-fake", {})
    benchmark = {"name": "bench_activations.ReLU.time_latency", "version": "1",
                 "params": [[repr(case) for case in levels_by_case], ["'cuda'"]]}
    samples = [levels if isinstance(levels, list) else [level for level in levels for _ in range(OpBenchmark.repeat[1])]
               for levels in levels_by_case.values()]
    run = _Run([statistics.median(s) for s in samples])
    run.samples, run.number = samples, [1] * len(samples)
    result.add_result(benchmark, run, record_samples=True)
    return result
