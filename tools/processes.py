"""How much one case's time depends on the process it runs in: the case in several new processes
(each a new interpreter, as each asv run's forkserver is), each timing its synchronised calls for a
while after the suite's own warm-up, as asv calls them (the benchmark's `setup` before every call).

    python -m tools.processes "BCE / dim=1000000 dim=1000000" --backend cuda [--precision strict]
                              [--processes 6] [--seconds 1] [--cpu-affinity 2-5 | --avoid-gpu-interrupts]
                              [--with-events [torch]] [--cpu-latency-us 0]

Per process: the median call (us) in windows of time after the warm-up, over all of its calls, the
median of the benchmark's `setup` before each call (host work alone, the same in every process: how
fast the process's host thread ran), the CPUs it was on as its calls ended, and, where the NVIDIA
driver's lines are in /proc/interrupts, the CPUs that took the GPU's interrupts while it ran,
start-up included (Linux). MLX waits for the GPU asleep (a blocking-sync CUDA event) and is woken by
that interrupt, so where it lands may set a level. Levels that differ between processes and hold
within each are why `make bench` takes a GPU figure from several processes (see
`benchmarks/common.py`); a level that changes with the CPU says to try pinning (`--cpu-affinity`, as
`asv run` takes it; `--avoid-gpu-interrupts`: every CPU but those taking the GPU's interrupts). Pin
to several CPUs: the frameworks' worker threads share them (pinned to one CPU of this project's
2-core box, torch's CPU ReLU `128x16x1024` ran 20 times slower).

--with-events records tools.fidelity's device events around each call too (still timed by the host's
clock): run with and without it, it tells whether the check's instrument moves what it checks. Its
events are tools.fidelity's default (the CUDA driver's on NVIDIA GPUs, torch's on Apple GPUs);
`--with-events torch` takes torch's on CUDA, which bring torch's CUDA into MLX's processes.

--cpu-latency-us holds Linux's CPU wake-up latency limit while the processes run (root only;
`tools/cpu_wakeup.py` says why a GPU figure may depend on it); each report names the CPU's idle states.
"""

import argparse
import contextlib
import io
import os
import statistics
import sys
import time

from tabulate import tabulate

from benchmarks.common import BACKEND_NAMES, BACKENDS, GPU_BACKENDS, PRECISIONS, usable_backend
from tools import cpu_wakeup, fidelity, gpu_interrupts
from tools.forked import forked
from tools.options import above_zero, microseconds
from tools.speedup_table import TableError, find_row
from tools.stability import spread

WINDOWS_S = (0.1, 0.3, 0.6, 1.0, 2.0, 5.0)  # ends of the windows of time after the warm-up


def current_cpu():
    """The CPU this process last ran on (field 39 of /proc/self/stat), or None off Linux."""
    try:
        with open("/proc/self/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[36])
    except OSError:
        return None


def interrupts_between(before, after):
    """'CPU:count, ...' of the interrupts taken between two `gpu_interrupts.counts` readings, most first."""
    taken = sorted(((count - before.get(cpu, 0), cpu) for cpu, count in after.items()), reverse=True)
    return ", ".join(f"{cpu}:{count}" for count, cpu in taken if count > 0) or "0"


def timed_calls(row, backend, precision, seconds, cpus, with_events, send):
    """Send (seconds after the warm-up, microseconds, CPU, microseconds of the `setup` before it) per
    call of the case, for `seconds`; with
    `with_events` (whose: tools.fidelity.INSTRUMENTS), tools.fidelity's device events recorded around
    each call as it records them."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    family, label = find_row(row)
    bench = family()
    params = (label, backend, precision) if family.uses_matrix_units else (label, backend)
    bench.setup(*params)  # the suite's own: inputs, then the warm-up
    bench.teardown(*params)
    if with_events:
        begin, end, stream = fidelity.events_for(BACKENDS[backend], with_events)
        record = fidelity.recorder(stream)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        set_up = time.perf_counter()
        bench.setup(*params)
        t0 = time.perf_counter()
        if with_events:
            record(begin)
        bench.time_latency(*params)
        if with_events:
            record(end)
        t1 = time.perf_counter()
        bench.teardown(*params)
        if with_events:
            end.synchronize()
        send((t0 - start, (t1 - t0) * 1e6, current_cpu(), (t0 - set_up) * 1e6))


def process_row(number, calls):
    """A process's row: its median per window, over all its calls, its setups' median, how many calls,
    its CPUs, CPU changes."""
    row, begin = [f"p{number}"], 0.0
    for end in WINDOWS_S:
        window = [us for at, us, *_ in calls if begin <= at < end]
        row.append(f"{statistics.median(window):.1f}" if window else "")
        begin = end
    cpus = sorted({cpu for _, _, cpu, _ in calls if cpu is not None})
    changes = sum(1 for a, b in zip(calls, calls[1:]) if a[2] != b[2])
    return [*row, f"{median_us(calls):.1f}", f"{median_setup_us(calls):.1f}", len(calls),
            ",".join(map(str, cpus)) or "?", changes]


def median_us(calls):
    return statistics.median(us for _, us, *_ in calls)


def median_setup_us(calls):
    return statistics.median(setup_us for *_, setup_us in calls)


def report(row, backend, precision, processes, with_events=False, cpu_latency_us=None, interrupts=None):
    """The table of per-process medians, how far apart the processes' medians lie, and the CPUs'
    idle states (held to `cpu_latency_us` if given). `interrupts`: per process, the GPU's interrupts
    by CPU while it ran (`interrupts_between`), a column of their own; None leaves it out."""
    windows = [f"{a}-{b} s" for a, b in zip((0, *WINDOWS_S), WINDOWS_S)]
    rows = [process_row(n, calls) for n, calls in enumerate(processes, 1)]
    head = ["process", *windows, "all calls", "setup", "calls", "CPUs", "CPU changes"]
    if interrupts is not None:
        rows = [[*cells, taken] for cells, taken in zip(rows, interrupts)]
        head.append("GPU interrupts, CPU:count")
    table = tabulate(rows, head, tablefmt="github", disable_numparse=True)
    medians = [median_us(calls) for calls in processes]
    setups = [median_setup_us(calls) for calls in processes]
    instrument = (f", tools.fidelity's device events ({fidelity.INSTRUMENT_NAMES[with_events]}) "
                  "recorded around each call" if with_events else "")
    return (f"**{row} on {backend} ({precision}){instrument}: microseconds per call, per process**\n\n{table}\n\n"
            f"slowest process over fastest: {spread(medians):.3f}; their setups (host work alone): "
            f"{spread(setups):.3f}\n{cpu_wakeup.described(cpu_latency_us)}\n")


def affinity(text):
    """asv's own reading of --cpu-affinity ('3', '0,2', '4-7'), held to CPUs this process may run on."""
    from asv.commands import make_argparser

    try:
        with contextlib.redirect_stderr(io.StringIO()):  # asv's usage text: the error below says it all
            cpus = make_argparser()[0].parse_args(["run", "--cpu-affinity", text]).attribute["cpu_affinity"]
    except SystemExit:
        raise argparse.ArgumentTypeError(f"{text!r} names no CPUs of this machine as asv reads them "
                                         f"(e.g. 3, 0,2 or 4-7; CPUs 0-{os.cpu_count() - 1})") from None
    if not cpus:  # asv reads a falling range (5-2) as no CPU at all, and an empty list as no pinning
        raise argparse.ArgumentTypeError(f"{text!r} names no CPU: write a range low to high, e.g. 2-5")
    allowed = allowed_cpus()
    barred = sorted(set(cpus) - allowed)
    if barred:  # asv checks against the machine's count; a cpuset (a container's, taskset's) allows fewer
        raise argparse.ArgumentTypeError(
            f"{text!r} names CPU{'s' * (len(barred) > 1)} {gpu_interrupts.cpu_list(barred)}, which this process may "
            f"not run on: name CPUs of {gpu_interrupts.cpu_list(allowed)} only")
    return cpus


def allowed_cpus():
    """The CPUs this process may run on: its affinity where the system keeps one (Linux), else all."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count()))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.processes", description=__doc__.split("\n\n")[0])
    parser.add_argument("row", help="the table's row name: 'Family / case label'")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="cuda")
    parser.add_argument("--precision", choices=PRECISIONS, default="strict")
    parser.add_argument("--processes", type=above_zero(int, "number of processes"), default=6)
    parser.add_argument("--seconds", type=above_zero(float, "number of seconds"), default=1.0,
                        help="of calls per process after its warm-up")
    pinning = parser.add_mutually_exclusive_group()
    pinning.add_argument("--cpu-affinity", type=affinity, help="pin every process to these CPUs, as asv run does")
    pinning.add_argument("--avoid-gpu-interrupts", action="store_true",
                         help="pin every process to the CPUs that take none of the GPU's interrupts "
                              "(tools/gpu_interrupts.py)")
    parser.add_argument("--with-events", nargs="?", const=fidelity.default_instrument(), choices=fidelity.INSTRUMENTS,
                        help="record tools.fidelity's device events around each call too (GPU backends): "
                             "its default's, or those named ('driver': the CUDA driver's own; 'torch')")
    parser.add_argument("--cpu-latency-us", type=microseconds, metavar="US",
                        help="hold the CPUs' wake-up latency at this many us while the processes run "
                             f"({cpu_wakeup.REQUEST})")
    args = parser.parse_args(argv)
    if args.with_events and args.backend not in GPU_BACKENDS:
        parser.error(f"--with-events records device events: {args.backend} is no GPU backend (give one of "
                     f"{', '.join(GPU_BACKENDS)})")
    try:
        find_row(args.row)
    except TableError as error:
        sys.exit(f"error: {error}")
    try:
        usable_backend(args.backend, args.precision)  # in this process only to say why not: each runs its own
        if args.avoid_gpu_interrupts:
            args.cpu_affinity, taking = gpu_interrupts.cpus_avoiding()
            print(f"pinned to CPUs {gpu_interrupts.cpu_list(args.cpu_affinity)}: CPUs "
                  f"{gpu_interrupts.cpu_list(taking)} take the GPU's interrupts")
    except (NotImplementedError, gpu_interrupts.NoInterruptsError) as error:
        sys.exit(f"error: {error}")
    processes, interrupts = [], []
    with cpu_wakeup.held(args.cpu_latency_us):
        for _ in range(args.processes):
            before = gpu_interrupts.counts()
            calls, exitcode = forked(timed_calls, args.row, args.backend, args.precision, args.seconds,
                                     args.cpu_affinity, args.with_events, fresh=True)
            after = gpu_interrupts.counts()
            if exitcode != 0 or not calls:
                sys.exit(f"error: the case's process failed (exit {exitcode}); what it printed is above")
            processes.append(calls)
            if before is not None and after is not None:
                interrupts.append(interrupts_between(before, after))
    print(report(args.row, args.backend, args.precision, processes, args.with_events, args.cpu_latency_us,
                 interrupts if len(interrupts) == len(processes) else None))


if __name__ == "__main__":
    main()
