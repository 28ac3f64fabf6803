"""The main job: run the suite with asv on this environment, keyed to the installed MLX release,
then print this machine's speedup table (one per dtype MLXBENCH_DTYPES selects) and write it next to the
results.

    python -m tools.bench [--machine NAME] [--record-unlisted] [--memory] [--avoid-gpu-interrupts]
                          [asv run options, e.g. --quick --bench Softmax]

The CPU backends' cases run in three asv runs, a third of the modules each; then the GPU backends' in
`OpBenchmark.gpu_rounds` asv runs of the whole suite (one with --quick), each adding its samples to the
last's: a GPU figure is the median of processes from separate runs (see `benchmarks/common.py` for why).

Peak memory (`track_peak_memory`) is left out unless --memory asks for it: asv runs it in a process
of its own per case and backend, which would add a second pass over the suite to every run.
"""

import argparse
import contextlib
import importlib.metadata
import io
import itertools
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import types
import typing
from pathlib import Path

from asv.results import iter_results_for_machine_and_hash

from tools import cpu_wakeup, figure_dates, gpu_interrupts, timeline
from tools.options import above_zero, microseconds

ROOT = timeline.ROOT
RESULTS = ROOT / "results"


def installed_versions():
    return {name: importlib.metadata.version(name) for name in ("mlx", "torch", "numpy")}


def asv(*args, log=None):
    """asv's exit code; with `log`, its output is shown and kept in `log.partial`, which the caller
    renames to `log` once the run counts (an earlier run's log stays whole until then). The log's
    first line says when the run started (`speedup_table.run_logs` orders a machine's logs by it)."""
    command = [sys.executable, "-m", "asv", "--config", str(ROOT / "asv.conf.json"), *args]
    if log is None:
        return subprocess.run(command, cwd=ROOT).returncode
    from tools.speedup_table import log_header  # imported late: the suite checks its selections on import

    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        with open(partial(log), "w") as saved:
            saved.write(log_header(time.time()))
            for line in run.stdout:
                sys.stdout.write(line)
                saved.write(line)
    return run.returncode


def partial(log):
    return log.with_name(log.name + ".partial")


def parsed_asv_run(asv_args):
    """(asv's own parse of `asv run` with these options, or None; why it rejects them in one line, or
    None). asv exits 2 on a usage error, the code it also gives a run in which some cases failed: it
    is checked first."""
    from asv.commands import make_argparser

    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            args = make_argparser()[0].parse_args(["run", "--python=same", *asv_args])
    except SystemExit:
        return None, re.sub(r"^asv( run)?: error: ", "", usage.getvalue().strip().splitlines()[-1])
    for pattern in args.bench or ():
        try:
            re.compile(pattern)
        except re.error as error:
            return None, f"--bench {pattern!r} is not a regular expression ({error})"
    return args, None


def no_selection_error(asv_args):
    """The one line for a selection that runs nothing. asv matches each case of a parameterised
    benchmark (all of the suite's) as `name(param, ...)`, never the bare name, so a pattern that ends
    with `$` after the method name selects nothing: the line says what to write instead."""
    hint = ""
    patterns = parsed_asv_run(asv_args)[0].bench or ()
    if any(pattern.endswith("$") and not pattern.endswith(r"\)$") for pattern in patterns):
        hint = r"; asv matches a case as name(param, ...), so end the pattern with '\(' instead of '$'"
    return (f"error: {' '.join(asv_args)!r} selects no benchmark of the suite{hint}; `asv check --python=same` "
            f"lists their names (e.g. bench_activations.Softmax.time_latency; {MEMORY_BENCHMARK} only with --memory)")


def environment_name():
    """The name asv gives this interpreter's environment (`--python=same`), as in its result files."""
    from asv.environment import get_env_name

    return get_env_name("existing", os.path.abspath(sys.executable).replace(os.path.sep, "_"), {}, {})


def record_versions(machine, commit, versions):
    """Put the MLX, torch and numpy versions into asv's own result file of this environment (asv's
    --python=same has none); another environment's results of the same machine keep theirs."""
    for result in iter_results_for_machine_and_hash(str(RESULTS), machine, commit):
        if result.env_name == environment_name():
            result._params.update(versions, python=platform.python_version())
            result._requirements.update(versions)
            result.save(str(RESULTS))


MEMORY_BENCHMARK = "track_peak_memory"
# asv matches --bench with re.search against "module.Class.method(param, ...)"; this start of a
# pattern rejects the memory benchmark, so that a selection can leave it out with asv's own filter.
_NOT_MEMORY = rf"^(?![^(]*\.{MEMORY_BENCHMARK}\()"


MODULES = sorted(path.stem for path in (ROOT / "benchmarks").glob("bench_*.py"))
# How many asv runs a pass split by modules takes (`runs`): each asv start (its discovery and
# forkserver) cost about 10.5 s on the H100's host, and a run cut short loses all its modules.
RUNS_BY_MODULES = 3


def module_groups(modules=MODULES, count=RUNS_BY_MODULES):
    """`modules` in at most `count` runs of consecutive modules, their sizes at most one apart."""
    bounds = [len(modules) * part // count for part in range(count + 1)]
    return [modules[start:end] for start, end in zip(bounds, bounds[1:]) if end > start]


def runs(asv_args, memory=False, combinations="", by_module=True):
    """(log name suffix, asv run arguments) per asv run. asv saves a run's results only when it ends,
    so with `by_module` the suite runs in `module_groups`, a selection of the user's own (--bench) too:
    a run cut short (a lost device, a time limit) costs its group's modules. Without it, one run takes
    every module (`backend_groups` says when). Without `memory` every selection, the user's too, leaves
    out the memory benchmark. `combinations` (see `runnable_combinations`) joins every selection. A
    group a selection leaves empty still has its run here (`selects_any` tells)."""
    start = "^" if memory else _NOT_MEMORY
    # (log name part, a lookahead that keeps the run to its modules)
    parts = [("-" + "+".join(group), f"(?={_any_of(group)}\\.)") for group in module_groups()] if by_module \
        else [("", "")]
    if not any(_is_bench_option(arg) for arg in asv_args):
        return [(part, ["--bench", f"{start}{only}{combinations}", *asv_args]) for part, only in parts]
    return [(part, _user_selection(asv_args, rf"^{only}{start}{combinations}")) for part, only in parts]


def _user_selection(asv_args, prefix):
    """`asv_args` with each --bench pattern restricted by `prefix` (`_restricted`)."""
    args, after_option = [], False
    for arg in asv_args:
        if after_option:
            arg = _restricted(arg, prefix)
        elif arg.startswith("--bench="):
            arg = "--bench=" + _restricted(arg[len("--bench="):], prefix)
        elif arg.startswith("-b") and arg != "-b":
            arg = "-b" + _restricted(arg[2:], prefix)
        after_option = arg in ("-b", "--bench")
        args.append(arg)
    return args


def discovered_benchmarks():
    """The suite's benchmarks as asv lists them (asv_runner's own discovery, in a process of its own:
    imported here, the modules would define every family a second time), or None if it fails (asv's
    run then says why)."""
    code = ("import sys\nfrom asv_runner.discovery import list_benchmarks\n"
            "with open(sys.argv[3], 'w') as listing:\n    list_benchmarks(sys.argv[2], listing)")
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "benchmarks.json"
        # "discover" as asv's own discovery says it: the suite then skips importing torch (backends.py)
        found = subprocess.run([sys.executable, "-c", code, "discover", str(ROOT / "benchmarks"), str(listing)],
                               cwd=ROOT, capture_output=True, text=True)
        if found.returncode != 0 or not listing.is_file():
            return None
        return json.loads(listing.read_text())


def selects_any(run_args, benchmarks):
    """Whether `asv run` with `run_args` selects a parameter combination of `benchmarks` (as
    `discovered_benchmarks` lists them), by asv's own parser and filter; True if they are unknown."""
    from asv.benchmarks import Benchmarks

    if benchmarks is None:
        return True
    patterns = parsed_asv_run(run_args)[0].bench
    return bool(Benchmarks(types.SimpleNamespace(benchmark_dir=str(ROOT / "benchmarks")), benchmarks, regex=patterns))


def _is_bench_option(arg):
    return arg in ("-b", "--bench") or arg.startswith(("-b", "--bench="))


def _restricted(pattern, prefix):
    """`pattern` as asv applies it (re.search over the name), where `prefix` (anchored at the start:
    module, memory benchmark or not, combinations) also matches."""
    return f"{prefix}(?=.*?(?:{pattern}))"


def _any_of(values):
    return "(?:" + "|".join(re.escape(value) for value in values) + ")"


def runnable_combinations(runnable, tf32, precisions, dtypes):
    """Lookaheads for --bench that drop the parameter combinations the suite would skip anyway: a
    backend not in `runnable` (not selected, or absent here), a precision mode or dtype not selected,
    TF32 on a backend not in `tf32` or with a half dtype, throughput off the GPU, a float32-only family
    (the floor aside) when float32 is not selected. asv matches --bench
    against each combination's name ("module.Class.method('case', 'backend'[, 'precision'][,
    'dtype'])") and starts no process for the others: each skipped one costs a process start (about
    25 ms) otherwise, thousands a run. A combination left out keeps the figure an earlier run of the
    same release recorded, or reads n/a."""
    from benchmarks.common import BACKEND_NAMES, DTYPES, GPU_BACKENDS, PRECISIONS, op_families

    absent = [name for name in BACKEND_NAMES if name not in runnable]
    no_tf32 = [name for name in BACKEND_NAMES if name in runnable and name not in tf32]
    half = [dtype for dtype in DTYPES if dtype != "float32"]
    parts = []
    if absent:  # the backend is the second parameter: after ", ", before "," or ")"
        parts.append(f"(?!.*, '{_any_of(absent)}'[,)])")
    if set(precisions) != set(PRECISIONS):
        parts.append(f"(?!.*, '{_any_of(sorted(set(PRECISIONS) - set(precisions)))}'[,)])")
    if "tf32" in precisions and no_tf32:
        parts.append(f"(?!.*, '{_any_of(no_tf32)}', 'tf32')")
    if set(dtypes) != set(DTYPES):  # the dtype is the last parameter
        parts.append(f"(?!.*, '{_any_of(sorted(set(DTYPES) - set(dtypes)))}'\\))")
    if "float32" not in dtypes:  # a family of float32 alone has no dtype parameter; the floor heads every table
        heads = [f"(?:[^(]*\\.)?{re.escape(family.__name__)}\\." for family in op_families() if not family.in_tables]
        with_dtype = f".*, {_any_of(repr(dtype) for dtype in DTYPES)}\\)$"
        parts.append("(?=" + "|".join([*heads, with_dtype]) + ")")
    parts.append(f"(?!.*, 'tf32', '{_any_of(half)}'\\))")
    off_gpu = [name for name in runnable if name not in GPU_BACKENDS]
    if off_gpu:
        parts.append(f"(?![^(]*\\.time_throughput\\(.*, '{_any_of(off_gpu)}'[,)])")
    return "".join(parts)


class Pass(typing.NamedTuple):
    """asv runs over the suite for some backends (`backend_groups`)."""
    suffix: str  # of the log names
    backends: list
    options: list  # asv run's
    measures_memory: bool
    by_module: bool  # asv runs by groups of modules (`runs`), else one for the whole suite

    @property
    def name(self):
        """"CPU pass", "GPU pass" or "GPU pass N", as the time lines of `make bench` call it."""
        return "CPU pass" if not self.suffix else "GPU pass" + self.suffix.removeprefix("-gpu").replace("-round", " ")


def backend_groups(runnable, quick=False, gpu_rounds=None):
    """The passes of asv runs over the suite, in order: the CPU backends' cases in one process each
    (`OpBenchmark.rounds`); the GPU backends' in `OpBenchmark.gpu_rounds` passes (one with `quick`, as
    asv's --quick runs one round), the first keeping its samples (--record-samples), the others adding
    theirs (--append-samples), so the figure is the median over all of them. Each pass is a run of its
    own, with a forkserver of its own, minutes after the last: asv's rounds within one run (-a rounds=)
    fork every process from one server (why, where the attributes live). `gpu_rounds` overrides how
    many passes (fewer: a rougher figure, sooner). Peak memory is one value a process: the first pass
    only.

    The CPU pass goes in `module_groups`: its modules take minutes each, and a run cut short costs its
    group; one run a module, the nine asv starts took about 95 s of its 8.5 minutes on the H100's host.
    A GPU pass is one asv run: module by module, on the H100 (2026-12-05), the starts of its nine runs
    (asv's discovery, then its forkserver, each importing torch and MLX) took 9-12 s each, a third of
    the pass's 4 minutes."""
    from benchmarks.common import GPU_BACKENDS, OpBenchmark

    cpu = [name for name in runnable if name not in GPU_BACKENDS]
    gpu = [name for name in runnable if name in GPU_BACKENDS]
    groups = [Pass("", cpu, [], True, True)] if cpu else []
    passes = 1 if quick else gpu_rounds or OpBenchmark.gpu_rounds
    if gpu and passes == 1:
        groups.append(Pass("-gpu", gpu, ["--record-samples"] if not quick else [], True, False))
    elif gpu:
        groups += [Pass(f"-gpu-round{n}", gpu, ["--append-samples" if n > 1 else "--record-samples"], n == 1, False)
                   for n in range(1, passes + 1)]
    return groups


def release_commit(version, record_unlisted=False, repo=timeline.REPO):
    """The timeline commit of MLX `version`; an unlisted one only with `record_unlisted`, on a local
    commit after the newest listed release (dropped again when the timeline is next rebuilt)."""
    releases = timeline.read_releases()
    if record_unlisted and version not in {listed for listed, _ in releases}:
        releases.append((version, releases[-1][1]))
    timeline.build(releases, repo)
    return timeline.commit_of(version, repo)


MACHINE_NAME = re.compile(r"[\w.-]+")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--machine", default=os.environ.get("MLXBENCH_MACHINE") or socket.gethostname(),
                        help="name the results are kept under: results/<machine>/ (default: host name)")
    parser.add_argument("--record-unlisted", action="store_true",
                        help="record an MLX that is not a listed release on a local timeline commit of its own")
    parser.add_argument("--memory", action="store_true",
                        help="also measure each case's peak memory (track_peak_memory: one more process per case "
                             "and backend, left out by default) and write its table")
    parser.add_argument("--gpu-rounds", type=above_zero(int, "number of asv runs"), metavar="N",
                        help="asv runs for the GPU backends' cases (default: OpBenchmark.gpu_rounds, "
                             "each a process per figure; 1 for a first look: one process of up to 25 samples)")
    parser.add_argument("--cpu-latency-us", type=microseconds, metavar="US",
                        help="hold Linux's CPU wake-up latency limit at this many us during the GPU passes "
                             f"({cpu_wakeup.REQUEST}, root only; tools/cpu_wakeup.py says why)")
    parser.add_argument("--avoid-gpu-interrupts", action="store_true",
                        help="time the GPU passes on the CPUs that take none of the GPU's interrupts (asv run's "
                             "--cpu-affinity; Linux, NVIDIA driver; tools/gpu_interrupts.py says why)")
    args, asv_args = parser.parse_known_args(argv)
    if not MACHINE_NAME.fullmatch(args.machine) or args.machine in (".", ".."):
        sys.exit(f"error: machine name {args.machine!r} cannot name a folder of results/; "
                 "use letters, digits, '.', '_' and '-' (e.g. --machine h100-sxm-80gb)")
    asv_run_args, usage_error = parsed_asv_run(asv_args)
    if usage_error:
        sys.exit(f"error: asv run does not accept {' '.join(asv_args)!r}: {usage_error} "
                 "(`asv run --help` lists its options)")
    with cpu_wakeup.held(args.cpu_latency_us):
        pass  # a limit that cannot be held stops the run here, before any pass, not after the CPU pass
    gpu_pinning = []  # asv run options of the GPU passes
    if args.avoid_gpu_interrupts:
        if "cpu_affinity" in (asv_run_args.attribute or {}):
            sys.exit("error: --avoid-gpu-interrupts chooses the GPU passes' CPUs and asv's --cpu-affinity names "
                     "some too: drop one of them")
        try:
            free, taking = gpu_interrupts.cpus_avoiding()
        except gpu_interrupts.NoInterruptsError as error:
            sys.exit(f"error: {error}")
        gpu_pinning = ["--cpu-affinity", gpu_interrupts.cpu_list(free)]
    if args.gpu_rounds and asv_run_args.quick:
        sys.exit("error: --quick runs the GPU backends' cases once, a sample each, and --gpu-rounds asks for "
                 f"{args.gpu_rounds} runs: drop one of them")

    # Imported here: the suite checks the MLXBENCH_* selections when it is imported, and a typo exits.
    from benchmarks.common import (BACKEND_NAMES, BACKENDS, BACKENDS_VARIABLE, PRECISIONS_VARIABLE,
                                   selected_backends, selected_dtypes, selected_precisions)
    from tools import speedup_table, stability
    selected = selected_backends()
    absence = {name: BACKENDS[name].unavailable_reason() for name in BACKEND_NAMES}  # probed once
    runnable = [name for name in selected if not absence[name]]
    if not runnable:
        sys.exit(f"error: none of the backends selected ({', '.join(selected)}) can run on this machine; "
                 f"set {BACKENDS_VARIABLE} to some of {', '.join(n for n in BACKEND_NAMES if not absence[n])}")
    for name in selected if os.environ.get(BACKENDS_VARIABLE) else ():
        if absence[name]:
            print(f"warning: {BACKENDS_VARIABLE} asks for {name}, which this machine cannot run ({absence[name]}); "
                  "it will show as n/a", file=sys.stderr)
    if "tf32" in os.environ.get(PRECISIONS_VARIABLE, "") and selected_precisions() == ("tf32",):
        if not any(BACKENDS[name].has_tf32() for name in runnable):
            sys.exit(f"error: {PRECISIONS_VARIABLE}=tf32 asks for TF32, which none of the backends here has "
                     f"({', '.join(selected)}); TF32 exists on CUDA only: use strict")

    versions = installed_versions()
    try:
        commit = release_commit(versions["mlx"], args.record_unlisted)
    except timeline.TimelineError as error:
        sys.exit(f"error: {error}")

    if asv("machine", "--yes", "--machine", args.machine) != 0:
        sys.exit(f"error: asv could not record machine {args.machine!r}")
    machine_dir = RESULTS / args.machine
    new_machine = not machine_dir.exists()
    machine_dir.mkdir(parents=True, exist_ok=True)
    try:
        figure_dates.read(RESULTS, args.machine)  # a file that cannot be read stops the run before it starts
    except figure_dates.DatesError as error:
        sys.exit(f"error: {error}")
    selected_anything = False
    benchmarks = discovered_benchmarks()
    timings = []  # (pass, asv runs, seconds, figures new): what a run cost, for the notes of a long one
    gpu_began_ms = None  # asv's clock: the figures the GPU passes time started after it
    for group in backend_groups(runnable, asv_run_args.quick, args.gpu_rounds):
        began, started, timed = time.perf_counter(), 0, 0
        if group.suffix and gpu_began_ms is None:
            gpu_began_ms = int(time.time() * 1000)
        tf32 = [name for name in group.backends if BACKENDS[name].has_tf32()]
        combinations = runnable_combinations(group.backends, tf32, selected_precisions(), selected_dtypes())
        with cpu_wakeup.held(args.cpu_latency_us if group.suffix else None):  # the GPU passes only
            options = [*group.options, *(gpu_pinning if group.suffix else [])]
            for part, run_args in runs([*options, *asv_args], args.memory and group.measures_memory, combinations,
                                       group.by_module):
                if not selects_any(run_args, benchmarks):
                    continue  # no asv start-up for a module with nothing to run in this selection
                log = machine_dir / f"{commit[:8]}-mlx-{versions['mlx']}{part}{group.suffix}.log"
                before, day = figure_dates.figures(RESULTS, args.machine), figure_dates.today()
                code = asv("run", "--python=same", "--set-commit-hash", commit, "--machine", args.machine,
                           "--show-stderr", *run_args, log=log)
                started += 1
                if code not in (0, 2):  # 2: some cases failed; they are results, shown as failed in the table
                    if "No benchmarks selected" in partial(log).read_text():
                        partial(log).unlink()  # a module or group with nothing to run in this selection
                        continue
                    sys.exit(f"error: asv run failed (exit {code}); its output is in {partial(log).relative_to(ROOT)}")
                selected_anything = True
                partial(log).replace(log)
                record_versions(args.machine, commit, versions)
                timed += figure_dates.record(RESULTS, args.machine, before, day)
        if started:
            timings.append((group, started, time.perf_counter() - began, timed))
    if not selected_anything:
        if new_machine and not any(machine_dir.iterdir()):
            machine_dir.rmdir()  # a refused run leaves no folder behind
        sys.exit(no_selection_error(asv_args))

    for group, started, seconds, timed in timings:  # a figure is a process: where the time of a long run goes
        each = f", {timed} figure{'s' * (timed != 1)}, {seconds / timed:.2f} s a figure" if timed else ""
        print(f"time: {group.name} ({', '.join(group.backends)}): {started} asv run{'s' * (started > 1)}, "
              f"{seconds:.0f} s{each}")
    print(f"time: all passes, {sum(seconds for _, _, seconds, _ in timings):.0f} s")
    if args.cpu_latency_us is not None and any(group.suffix for group, *_ in timings):
        print(f"note: {cpu_wakeup.described(args.cpu_latency_us)} during the GPU passes")
    if gpu_pinning and any(group.suffix for group, *_ in timings):
        print(f"note: the GPU passes ran on CPUs {gpu_pinning[1]}; CPUs {gpu_interrupts.cpu_list(taking)} take the "
              "GPU's interrupts")
    gpu_passes = [group for group, *_ in timings if group.suffix]
    for result in iter_results_for_machine_and_hash(str(RESULTS), args.machine, commit) if len(gpu_passes) > 1 else ():
        spreads = stability.spreads_of_run(result, len(gpu_passes), gpu_began_ms)
        # a benchmark this run timed may hold another backend's figures from an earlier run
        note = stability.busy_note({name: value for name, value in spreads.items() if name in gpu_passes[0].backends})
        if note:
            print(note)

    # A table for what the machine's results of this release hold: the memory benchmark alone, or the
    # floor alone (it heads the tables, it is no row), makes no speedup table.
    held = {key for result in iter_results_for_machine_and_hash(str(RESULTS), args.machine, commit)
            for key in result.get_all_result_keys()}

    def holds(metric):
        return any(speedup_table.benchmark_key(family, metric) in held for family in speedup_table.table_families())

    tables = {}
    if holds("latency"):
        tables["speedup"] = []
    if args.memory and holds("memory"):
        tables["memory"] = ["--metric", "memory"]
    if not tables:
        print(f"note: the selection ran no row of the tables (the floor heads them); its results are in "
              f"{machine_dir.relative_to(ROOT)}/")
    # Compiled MLX is a column on request: asked for here when this run timed it (a run of it alone
    # in a half dtype has no other figure of that dtype to show).
    compiled = ["--compiled"] if speedup_table.COMPILED in runnable else []
    failed = 0
    for (name, metric), dtype in itertools.product(tables.items(), selected_dtypes()):
        suffix = "" if dtype == "float32" else f"-{dtype}"  # float32's tables keep their names
        failed |= speedup_table.main(["--machine", args.machine, "--release", versions["mlx"], *metric,
                                      "--dtype", dtype, *compiled,
                                      "--output", str(machine_dir / f"{name}-mlx-{versions['mlx']}{suffix}.md")])
    sys.exit(failed)


if __name__ == "__main__":
    main()
