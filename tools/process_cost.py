"""Where one asv process of a case spends its time: the process forked from one that imported the
suite and touched no device (as asv's forkserver forks each case's process), then the steps of its
life timed one by one, as asv and the suite take them.

    python -m tools.process_cost "Floor / dim=1" [ROW ...] --backend cuda [--precision strict]
                                 [--metric latency|throughput] [--processes 3]

Steps, in milliseconds: `fork` (until the new process runs), `checks` (the backend's selections and
availability; MLX's precision fixed), `device` (a one-element call: the framework's first touch of
the device), `precision` (the suite's check of how the backend multiplies float32: a GPU's first
matmul, in the families that multiply matrices), `inputs` (the case's inputs drawn and copied),
`warm-up` (the suite's, `setup`'s first call), `asv warm-up` (asv's own, `warmup_time`), `samples`
(asv's: `setup` before each call, up to `repeat`'s count or seconds; none where asv keeps its
warm-up's call as the sample), `teardown` and `exit` (until the process is gone: the framework's
device state torn down). On the H100 (2026-12-06) asv took 0.8 s a GPU process, of which its samples
were 0.05 s: this says where the rest goes.
"""

import argparse
import statistics
import sys
import time

import numpy as np
from tabulate import tabulate

from benchmarks.common import BACKEND_NAMES, GPU_BACKENDS, PRECISIONS, usable_backend, verified_backend
from tools.forked import forked
from tools.options import above_zero
from tools.speedup_table import TableError, find_row

STEPS = ("fork", "checks", "device", "precision", "inputs", "warm-up", "asv warm-up", "samples", "teardown", "exit")


def timed_life(row, backend_name, precision, metric, send):
    """Send (step, perf_counter at its end) for each step of `STEPS` this process takes, then
    ("samples taken", n); an error of the backend's checks as ("error", text)."""
    send(("fork", time.perf_counter()))
    family, label = find_row(row)
    bench = family()
    params = (label, backend_name, precision) if family.uses_matrix_units else (label, backend_name)
    precision, _ = family.modes(*params[2:])  # as `setup` has it: what `verified_backend` then checks
    try:
        backend = usable_backend(backend_name, precision)
    except NotImplementedError as error:
        send(("error", str(error)))
        return
    send(("checks", time.perf_counter()))
    with backend.session(precision):  # as in `setup`: MLX's device chosen, torch's modes set
        backend.to_numpy(backend.run(lambda x: x + 1, (backend.array(np.ones(1, np.float32)),)))
        send(("device", time.perf_counter()))
        verified_backend(backend_name, precision)  # the check is cached: `setup`'s own finds it done
        send(("precision", time.perf_counter()))
        bench.prepare(label, backend)  # cached: `setup` reuses these inputs
        send(("inputs", time.perf_counter()))
    bench.setup(*params)
    send(("warm-up", time.perf_counter()))
    method = getattr(bench, f"time_{metric}")

    def call():  # asv's order: `setup` before every call (its warm-up's too), `teardown` after each
        bench.teardown(*params)
        bench.setup(*params)
        method(*params)

    start = time.perf_counter()
    call()
    while time.perf_counter() < start + family.warmup_time:
        call()
    send(("asv warm-up", time.perf_counter()))
    least, most, seconds = family.repeat
    limit, taken = start + family.warmup_time + seconds, 0
    if time.perf_counter() <= limit:  # past it, asv keeps its warm-up's last call as the one sample
        while taken < most:
            call()
            taken += 1
            if taken >= least and time.perf_counter() > limit:
                break
    send(("samples", time.perf_counter()))
    bench.teardown(*params)
    send(("teardown", time.perf_counter()))
    send(("samples taken", taken))


def steps_ms(forked_at, messages, gone_at):
    """{step: milliseconds} of one process's messages; `forked_at` and `gone_at` are the parent's clock
    (the same monotonic clock) before the fork and after the process ended."""
    ends = dict(messages)
    ms, last = {}, forked_at
    for step in STEPS[:-1]:
        ms[step] = (ends[step] - last) * 1e3
        last = ends[step]
    ms["exit"] = (gone_at - last) * 1e3
    return ms


def report(row, backend, precision, metric, processes):
    """The table: a row per process (its steps in ms, total, samples taken), then their medians."""
    rows = [[f"p{n}", *(f"{ms[step]:.1f}" for step in STEPS), f"{sum(ms.values()):.1f}", taken]
            for n, (ms, taken) in enumerate(processes, 1)]
    medians = [statistics.median(ms[step] for ms, _ in processes) for step in STEPS]
    rows.append(["median", *(f"{m:.1f}" for m in medians),
                 f"{statistics.median(sum(ms.values()) for ms, _ in processes):.1f}", ""])
    table = tabulate(rows, ["process", *STEPS, "total", "samples"], tablefmt="github", disable_numparse=True)
    return f"**{row} on {backend} ({precision}), {metric}: one process's steps, ms**\n\n{table}\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.process_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="+", metavar="ROW", help="a table's row name: 'Family / case label'")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="cuda")
    parser.add_argument("--precision", choices=PRECISIONS, default="strict")
    parser.add_argument("--metric", choices=("latency", "throughput"), default="latency")
    parser.add_argument("--processes", type=above_zero(int, "number of processes"), default=3)
    args = parser.parse_args(argv)
    if args.metric == "throughput" and args.backend not in GPU_BACKENDS:
        parser.error(f"throughput is timed on the GPU backends only ({', '.join(GPU_BACKENDS)}), not {args.backend}")
    try:
        for row in args.rows:
            find_row(row)
    except TableError as error:
        sys.exit(f"error: {error}")
    for row in args.rows:
        processes = []
        for _ in range(args.processes):
            forked_at = time.perf_counter()
            messages, exitcode = forked(timed_life, row, args.backend, args.precision, args.metric)
            gone_at = time.perf_counter()
            errors = [text for step, text in messages if step == "error"]
            if errors:
                sys.exit(f"error: {errors[0]}")
            if exitcode != 0 or [step for step, _ in messages] != [*STEPS[:-1], "samples taken"]:
                sys.exit(f"error: the process of {row} on {args.backend} failed (exit {exitcode}); what it printed "
                         "is above")
            processes.append((steps_ms(forked_at, messages[:-1], gone_at), messages[-1][1]))
        print(report(row, args.backend, args.precision, args.metric, processes))


if __name__ == "__main__":
    main()
